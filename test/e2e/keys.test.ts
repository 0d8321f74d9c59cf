import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { ensureSigningKeys, rotateSigningKeys } from '../../src/oidc/provider/keys.ts';
import { loadServerSecrets } from '../../src/secrets/server-secrets.ts';
import { M2M_METADATA, relyingParty } from '../support/clients.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';

const API = 'https://api.example/keys';

/** Each test rotates keys of its own: a Kluis that re-reads them every second, with one JWT-token API and a client. */
async function house(t: TestContext): Promise<KluisFixture<'client', never>> {
  const house = await withKluis({
    resourceServers: [{ identifier: API, scope: 'read', accessTokenFormat: 'jwt', signingAlg: 'ES256' }],
    clients: { client: { ...M2M_METADATA, scope: 'read' } },
    env: { KEYS_REFRESH_INTERVAL: '1' },
  });
  t.after(() => house.stop());
  return house;
}

const jwks = async ({ kluis }: KluisFixture<'client', never>) =>
  (await (await fetch(new URL('/jwks', kluis.url))).json()) as JSONWebKeySet;
const token = async ({ kluis, clients }: KluisFixture<'client', never>) => {
  const rp = await relyingParty(kluis.issuer, clients.client);
  return (await oidc.clientCredentialsGrant(rp, { resource: API, scope: 'read' })).access_token;
};
const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid;

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('signing keys', () => {
  test('first start creates one key per algorithm; later starts create none', async (t) => {
    const { database } = await house(t);
    const { box } = await loadServerSecrets(database.db, { secret: undefined, production: false });
    assert.deepEqual(await ensureSigningKeys(database.db, box), []);
    const { rows } = await database.db.query<{ alg: string }>('select alg from signing_keys order by alg');
    assert.deepEqual(
      rows.map((r) => r.alg),
      ['ES256', 'EdDSA', 'PS256'],
    );
  });

  const rotation = 'a rotated key is published at once, signs only after the overlap, and the old key stays published';
  test(rotation, async (t) => {
    const kluis = await house(t);
    const { db } = kluis.database;
    const before = await token(kluis);
    const oldKid = kidOf(before);
    const { box } = await loadServerSecrets(db, { secret: undefined, production: false });
    // Longer than the wait for publication may take, so the old key is always checked within the overlap.
    const overlap = 15;
    const rotations = await rotateSigningKeys(db, box, { overlap, retention: 3600 });
    const newKid = rotations.find((r) => r.alg === 'ES256')!.kid;
    assert.deepEqual(rotations.find((r) => r.alg === 'ES256')!.retired, [oldKid]);

    // The running server picks the new key up without a restart (KEYS_REFRESH_INTERVAL=1).
    const published = async () => (await jwks(kluis)).keys.some((k) => k.kid === newKid);
    await until(published, 'the new key to be published', 10_000);
    assert.equal(kidOf(await token(kluis)), oldKid, 'within the overlap the old key still signs');

    await until(async () => kidOf(await token(kluis)) === newKid, 'the new key to sign', (overlap + 10) * 1000);
    const kids = (await jwks(kluis)).keys.map((k) => k.kid);
    assert.ok(kids.includes(oldKid!), 'the retired key stays published');
    const { payload } = await jwtVerify(before, createLocalJWKSet(await jwks(kluis)), { issuer: kluis.kluis.issuer });
    assert.equal(payload.aud, API, 'a token signed before the rotation still verifies');
  });

  test("a provider rebuilt for new keys runs Kluis's pipeline too: request id, security headers, Kluis's routes", async (t) => {
    const kluis = await house(t);
    const { db } = kluis.database;
    const { box } = await loadServerSecrets(db, { secret: undefined, production: false });
    const newKid = (await rotateSigningKeys(db, box, { overlap: 0, retention: 3600 })).find(
      (r) => r.alg === 'ES256',
    )!.kid;
    await until(async () => (await jwks(kluis)).keys.some((k) => k.kid === newKid), 'the rebuilt provider', 10_000);
    const keys = await fetch(new URL('/jwks', kluis.kluis.url));
    assert.match(keys.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(keys.headers.get('x-frame-options'), 'DENY');
    assert.equal((await fetch(new URL('/healthz', kluis.kluis.url))).status, 200);
    assert.equal(kidOf(await token(kluis)), newKid);
  });

  test('a retired key leaves the JWKS once its retention has passed', async (t) => {
    const kluis = await house(t);
    const { db } = kluis.database;
    const { box } = await loadServerSecrets(db, { secret: undefined, production: false });
    const rotations = await rotateSigningKeys(db, box, { overlap: 0, retention: 3600 });
    const [retired] = rotations.find((r) => r.alg === 'ES256')!.retired;
    assert.ok(
      (await jwks(kluis)).keys.some((k) => k.kid === retired),
      'a retired key stays published at first',
    );
    await db.query(
      `update signing_keys set retired_at = now() - interval '2 hours', expires_at = now() - interval '1 second',
         activates_at = now() - interval '3 hours' where kid = $1`,
      [retired],
    );
    const unpublished = async () => !(await jwks(kluis)).keys.some((k) => k.kid === retired);
    await until(unpublished, 'the retired key to be unpublished');
  });
});

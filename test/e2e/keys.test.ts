import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { addResourceServer } from '../../src/db/resource-servers.ts';
import { ensureSigningKeys, rotateSigningKeys } from '../../src/oidc/provider/keys.ts';
import { loadServerSecrets } from '../../src/secrets/server-secrets.ts';
import { M2M_METADATA, registerClient, relyingParty } from '../support/clients.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestKluis, type TestKluis } from '../support/kluis.ts';

const API = 'https://api.example/keys';
let t: TestDatabase;
let kluis: TestKluis;
let client: AdapterPayload;

before(async () => {
  t = await createTestDatabase();
  await addResourceServer(t.db, { identifier: API, scope: 'read', accessTokenFormat: 'jwt', signingAlg: 'ES256', accessTokenTtl: null });
  client = await registerClient(t.url, { ...M2M_METADATA, scope: 'read' });
  kluis = await startTestKluis(t.url, { KEYS_REFRESH_INTERVAL: '1' });
});
after(async () => {
  await kluis?.stop();
  await t?.drop();
});

const jwks = async () => (await (await fetch(new URL('/jwks', kluis.url))).json()) as JSONWebKeySet;
const token = async () => (await oidc.clientCredentialsGrant(await relyingParty(kluis.issuer, client), { resource: API, scope: 'read' })).access_token;
const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid;

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('signing keys', () => {
  test('first start creates one key per algorithm; later starts create none', async () => {
    const { box } = await loadServerSecrets(t.db, { secret: undefined, production: false });
    assert.deepEqual(await ensureSigningKeys(t.db, box), []);
    const { rows } = await t.db.query<{ alg: string }>('select alg from signing_keys order by alg');
    assert.deepEqual(rows.map((r) => r.alg), ['ES256', 'EdDSA', 'PS256']);
  });

  test('a rotated key is published at once, signs only after the overlap, and the old key stays published', async () => {
    const before = await token();
    const oldKid = kidOf(before);
    const { box } = await loadServerSecrets(t.db, { secret: undefined, production: false });
    const overlap = 3;
    const rotations = await rotateSigningKeys(t.db, box, { overlap, retention: 3600 });
    const rotatedAt = Date.now();
    const newKid = rotations.find((r) => r.alg === 'ES256')!.kid;
    assert.deepEqual(rotations.find((r) => r.alg === 'ES256')!.retired, [oldKid]);

    // The running server picks the new key up without a restart (KEYS_REFRESH_INTERVAL=1).
    await until(async () => (await jwks()).keys.some((k) => k.kid === newKid), 'the new key to be published');
    if (Date.now() - rotatedAt < overlap * 1000 - 500) {
      assert.equal(kidOf(await token()), oldKid, 'within the overlap the old key still signs');
    }

    await until(async () => kidOf(await token()) === newKid, 'the new key to sign');
    const published = (await jwks()).keys.map((k) => k.kid);
    assert.ok(published.includes(oldKid!), 'the retired key stays published');
    const { payload } = await jwtVerify(before, createLocalJWKSet(await jwks()), { issuer: kluis.issuer });
    assert.equal(payload.aud, API, 'a token signed before the rotation still verifies');
  });

  test('a retired key leaves the JWKS once its retention has passed', async () => {
    const { rows } = await t.db.query<{ kid: string }>(`select kid from signing_keys where retired_at is not null and alg = 'ES256'`);
    const retired = rows[0]!.kid;
    await t.db.query(`update signing_keys set retired_at = now() - interval '2 hours', expires_at = now() - interval '1 second', activates_at = now() - interval '3 hours' where kid = $1`, [retired]);
    await until(async () => !(await jwks()).keys.some((k) => k.kid === retired), 'the retired key to be unpublished');
  });
});

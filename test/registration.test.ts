import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { runCli, startTestKluis, type TestKluis } from './support/kluis.ts';
import { tempDir } from './support/tempdir.ts';
import { storedRowId } from './support/rows.ts';

// RFC 7591 dynamic registration and RFC 7592 management, as a fintech partner's onboarding script uses them.
let t: TestDatabase;
let kluis: TestKluis;
let dir: Awaited<ReturnType<typeof tempDir>>;
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let directoryKey: PrivateKey;
let strangerKey: PrivateKey;
const DIRECTORY = 'https://directory.example';

before(async () => {
  t = await createTestDatabase();
  dir = await tempDir('kluis-ssa');
  const directory = await generateKeyPair('ES256', { extractable: true });
  directoryKey = directory.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  const jwksFile = path.join(dir.path, 'directory.jwks.json');
  await writeFile(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(directory.publicKey)), kid: 'dir-1', alg: 'ES256' }] }));
  kluis = await startTestKluis(t.url, { SOFTWARE_STATEMENT_JWKS: jwksFile, SOFTWARE_STATEMENT_ISSUER: DIRECTORY });
});
after(async () => {
  await kluis?.stop();
  await t?.drop();
  await dir?.remove();
});

async function iat(...flags: string[]): Promise<string> {
  const result = await runCli(['iat', 'create', ...flags], { DATABASE_URL: t.url });
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { initial_access_token: string }).initial_access_token;
}

const WEB = { redirect_uris: ['https://budget.example/cb'], client_name: 'Budget app', scope: 'openid profile' };

async function register(token: string | undefined, metadata: Record<string, unknown>) {
  const res = await fetch(new URL('/reg', kluis.issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(metadata),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function statement(claims: Record<string, unknown>, key = directoryKey, kid = 'dir-1') {
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(DIRECTORY).setIssuedAt().setExpirationTime('5m').sign(key);
}

describe('dynamic client registration', () => {
  test('without an initial access token registration is refused with 401', async () => {
    const { status, body } = await register(undefined, WEB);
    assert.equal(status, 401);
    assert.equal(body.error, 'invalid_token');
    assert.equal((await register('not-a-token', WEB)).status, 401);
  });

  test('with a token from `kluis iat create` a client registers, pairwise by default, and the event is audited', async () => {
    const { status, body } = await register(await iat(), WEB);
    assert.equal(status, 201);
    assert.equal(body.subject_type, 'pairwise');
    assert.equal(body.token_endpoint_auth_method, 'client_secret_basic');
    assert.ok(body.client_secret);
    assert.ok(body.registration_access_token);
    assert.equal(body.registration_client_uri, `${kluis.issuer}/reg/${String(body.client_id)}`);
    // Provider events are written to the audit log without holding up the response.
    let audited = 0;
    for (let tries = 0; tries < 40 && !audited; tries += 1) {
      const { rows } = await t.db.query(`select 1 from audit_events where type = 'client.created' and client_id = $1 and details->>'via' = 'registration'`, [body.client_id]);
      audited = rows.length;
      if (!audited) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(audited, 1);
  });

  test('an expired initial access token is refused with 401', async () => {
    const token = await iat('--expires-in', '60');
    await t.db.query(`update oidc_models set expires_at = now() - interval '1 second' where model = 'InitialAccessToken' and id = $1`, [
      await storedRowId(t.db, 'InitialAccessToken', token),
    ]);
    assert.equal((await register(token, WEB)).status, 401);
  });

  test('a single-use token registers one client; a failed registration does not use it up; reuse is 401', async () => {
    const token = await iat('--single-use');
    const failed = await register(token, { redirect_uris: ['http://budget.example/cb'] });
    assert.equal(failed.status, 400);
    assert.equal((await register(token, WEB)).status, 201);
    const again = await register(token, WEB);
    assert.equal(again.status, 401);
    assert.equal(again.body.error, 'invalid_token');
  });

  test('redirect URI policy: http, wildcards and custom schemes are refused naming the field; loopback http is fine for native apps', async () => {
    const token = await iat();
    for (const uri of ['http://budget.example/cb', 'https://*.budget.example/cb', 'https://budget.example/*', 'com.budget.app:/cb', 'not a url']) {
      const { status, body } = await register(token, { redirect_uris: [uri] });
      assert.equal(status, 400, uri);
      assert.equal(body.error, 'invalid_redirect_uri', uri);
      assert.match(String(body.error_description), /^redirect_uris /, uri);
    }
    const native = await register(token, { application_type: 'native', redirect_uris: ['http://127.0.0.1:53117/cb'], token_endpoint_auth_method: 'none' });
    assert.equal(native.status, 201, JSON.stringify(native.body));
    const webLoopback = await register(token, { redirect_uris: ['http://127.0.0.1:53117/cb'] });
    assert.equal(webLoopback.status, 201, 'an http issuer (development) lets web clients use loopback too');
  });

  test('code only, PKCE-era grants, allowed auth methods, pairwise only, no operator-only metadata', async () => {
    const token = await iat();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...WEB, response_types: ['code id_token'] }, /response_types/],
      [{ ...WEB, grant_types: ['implicit'] }, /grant_types/],
      [{ ...WEB, grant_types: ['password'] }, /grant_types/],
      [{ ...WEB, token_endpoint_auth_method: 'client_secret_jwt' }, /token_endpoint_auth_method/],
      [{ ...WEB, subject_type: 'public' }, /subject_type public is only for first-party clients/],
      [{ ...WEB, introspect_any_token: true }, /introspect_any_token can only be set by the operator/],
    ];
    for (const [metadata, description] of cases) {
      const { status, body } = await register(token, metadata);
      assert.equal(status, 400, JSON.stringify(metadata));
      assert.equal(body.error, 'invalid_client_metadata', JSON.stringify(body));
      assert.match(String(body.error_description), description);
    }
  });
});

describe('sector identifier at registration', () => {
  test('a sector_identifier_uri that cannot be fetched, or is not https, is rejected', async () => {
    const token = await iat();
    const spanning = { redirect_uris: ['https://d1.example/cb', 'https://d2.example/cb'] };
    const unreachable = await register(token, { ...spanning, sector_identifier_uri: 'https://127.0.0.1:1/sector.json' });
    assert.equal(unreachable.status, 400);
    assert.equal(unreachable.body.error, 'invalid_client_metadata');
    assert.match(String(unreachable.body.error_description), /sector_identifier_uri could not be fetched/);
    const plain = await register(token, { ...spanning, sector_identifier_uri: 'http://sector.example/sector.json' });
    assert.equal(plain.body.error, 'invalid_client_metadata');
    assert.match(String(plain.body.error_description), /sector_identifier_uri/);
  });
});

describe('software statements', () => {
  test("a statement signed by the trusted directory has its claims applied over the request's", async () => {
    const ssa = await statement({ software_id: 'budget-42', client_name: 'Budget (verified)', redirect_uris: ['https://budget.example/cb'] });
    const { status, body } = await register(await iat(), { ...WEB, client_name: 'Anything I like', software_statement: ssa });
    assert.equal(status, 201, JSON.stringify(body));
    assert.equal(body.client_name, 'Budget (verified)');
    assert.equal(body.software_id, 'budget-42');
    assert.equal(body.software_statement, ssa);
  });

  test('a forged, expired, unsigned or wrongly issued statement is rejected', async () => {
    const token = await iat();
    const untrusted = await register(token, { ...WEB, software_statement: await statement({ software_id: 'x' }, strangerKey, 'stranger-1') });
    assert.equal(untrusted.status, 400);
    assert.equal(untrusted.body.error, 'unapproved_software_statement');
    const forged = await register(token, { ...WEB, software_statement: await statement({ software_id: 'x' }, strangerKey) });
    assert.equal(forged.status, 400);
    assert.equal(forged.body.error, 'invalid_software_statement', 'a bad signature under the directory key id');

    const expired = await new SignJWT({ software_id: 'x' })
      .setProtectedHeader({ alg: 'ES256', kid: 'dir-1' })
      .setIssuer(DIRECTORY)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(directoryKey);
    const late = await register(token, { ...WEB, software_statement: expired });
    assert.equal(late.status, 400);
    assert.equal(late.body.error, 'invalid_software_statement');
    assert.match(String(late.body.error_description), /expired/);

    const unsigned = new UnsecuredJWT({ software_id: 'x' }).setIssuer(DIRECTORY).setIssuedAt().encode();
    const none = await register(token, { ...WEB, software_statement: unsigned });
    assert.equal(none.status, 400);
    assert.equal(none.body.error, 'invalid_software_statement');

    const otherIssuer = await new SignJWT({ software_id: 'x' }).setProtectedHeader({ alg: 'ES256', kid: 'dir-1' }).setIssuer('https://elsewhere.example').setIssuedAt().sign(directoryKey);
    assert.equal((await register(token, { ...WEB, software_statement: otherIssuer })).body.error, 'invalid_software_statement');
  });

  test('with SOFTWARE_STATEMENT_REQUIRED a registration without a statement is refused', async () => {
    const jwksFile = path.join(dir.path, 'directory.jwks.json');
    const strict = await startTestKluis(t.url, { SOFTWARE_STATEMENT_JWKS: jwksFile, SOFTWARE_STATEMENT_ISSUER: DIRECTORY, SOFTWARE_STATEMENT_REQUIRED: 'true' });
    try {
      const res = await fetch(new URL('/reg', strict.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await iat()}` },
        body: JSON.stringify(WEB),
      });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_software_statement');
    } finally {
      await strict.stop();
    }
  });
});

describe('registration management (RFC 7592)', () => {
  test('read, update (rotating the registration access token, statement claims kept), delete', async () => {
    const ssa = await statement({ software_id: 'budget-43', client_name: 'Budget (verified)' });
    const { body: registered } = await register(await iat(), { ...WEB, software_statement: ssa });
    const uri = String(registered.registration_client_uri);
    const bearer = (token: unknown) => ({ authorization: `Bearer ${String(token)}` });

    const read = await fetch(uri, { headers: bearer(registered.registration_access_token) });
    assert.equal(read.status, 200);
    const current = (await read.json()) as Record<string, unknown>;
    assert.equal(current.client_name, 'Budget (verified)');

    const { registration_access_token: _rat, registration_client_uri: _uri, client_secret_expires_at: _exp, client_id_issued_at: _iat, ...metadata } = current;
    const update = await fetch(uri, {
      method: 'PUT',
      headers: { ...bearer(registered.registration_access_token), 'content-type': 'application/json' },
      body: JSON.stringify({ ...metadata, client_name: 'Renamed', redirect_uris: ['https://budget.example/cb', 'https://budget.example/cb2'] }),
    });
    assert.equal(update.status, 200);
    const updated = (await update.json()) as Record<string, unknown>;
    assert.deepEqual(updated.redirect_uris, ['https://budget.example/cb', 'https://budget.example/cb2']);
    assert.equal(updated.client_name, 'Budget (verified)', 'the statement still decides the name');
    assert.notEqual(updated.registration_access_token, registered.registration_access_token, 'rotated');
    assert.equal((await fetch(uri, { headers: bearer(registered.registration_access_token) })).status, 401, 'the old one is gone');

    const badUpdate = await fetch(uri, {
      method: 'PUT',
      headers: { ...bearer(updated.registration_access_token), 'content-type': 'application/json' },
      body: JSON.stringify({ ...metadata, redirect_uris: ['http://budget.example/cb'] }),
    });
    assert.equal(badUpdate.status, 400);
    assert.equal(((await badUpdate.json()) as { error: string }).error, 'invalid_redirect_uri');

    const removed = await fetch(uri, { method: 'DELETE', headers: bearer(updated.registration_access_token) });
    assert.equal(removed.status, 204);
    assert.equal((await fetch(uri, { headers: bearer(updated.registration_access_token) })).status, 401);
  });
});

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { openContext } from '../../src/cli/context.ts';
import { removeClient } from '../../src/clients/remove.ts';
import { loadConfig } from '../../src/config/env.ts';
import { PostgresAdapter } from '../../src/db/oidc-adapter.ts';
import { ProviderAdapter } from '../../src/oidc/provider/adapter.ts';
import { NewClients } from '../../src/oidc/clients/registration.ts';
import { loadServerSecrets } from '../../src/secrets/server-secrets.ts';
import { M2M_METADATA, registerClient } from '../support/clients.ts';
import type { TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { ROOT, runCli, spawnKluis, startTestKluis, type KluisProcess, type TestKluis } from '../support/kluis.ts';
import { tempDir } from '../support/tempdir.ts';
import { storedRowId } from '../support/rows.ts';
import { heldDocument, startTlsSite, type TlsHandler, type TlsSite } from '../support/tls.ts';

// RFC 7591 dynamic registration and RFC 7592 management, as a fintech partner's onboarding script uses them.
let t: TestDatabase;
let kluis: TestKluis;
let dir: Awaited<ReturnType<typeof tempDir>>;
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let directoryKey: PrivateKey;
let strangerKey: PrivateKey;
const DIRECTORY = 'https://directory.example';
let house: KluisFixture<never, never>;

before(async () => {
  dir = await tempDir('kluis-ssa');
  const directory = await generateKeyPair('ES256', { extractable: true });
  directoryKey = directory.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  const jwksFile = path.join(dir.path, 'directory.jwks.json');
  await writeFile(
    jwksFile,
    JSON.stringify({ keys: [{ ...(await exportJWK(directory.publicKey)), kid: 'dir-1', alg: 'ES256' }] }),
  );
  house = await withKluis({ env: { SOFTWARE_STATEMENT_JWKS: jwksFile, SOFTWARE_STATEMENT_ISSUER: DIRECTORY } });
  ({ database: t, kluis } = house);
});
after(async () => {
  await house?.stop();
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

/** A registration as RFC 7592 2.2 takes it back in an update: without the fields the server alone sets. */
function updatable(current: Record<string, unknown>): Record<string, unknown> {
  const {
    registration_access_token: _rat,
    registration_client_uri: _uri,
    client_secret_expires_at: _exp,
    client_id_issued_at: _iat,
    ...metadata
  } = current;
  return metadata;
}

function statement(claims: Record<string, unknown>, key = directoryKey, kid = 'dir-1') {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(DIRECTORY)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key);
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
      const { rows } = await t.db.query(
        `select 1 from audit_events where type = 'client.created' and client_id = $1 and details->>'via' = 'registration'`,
        [body.client_id],
      );
      audited = rows.length;
      if (!audited) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(audited, 1);
  });

  test('a registered client gets a UUID as its id, which never begins with a dash the CLI would read as an option', async () => {
    const ids = await Promise.all(
      Array.from({ length: 5 }, async () => String((await register(await iat(), WEB)).body.client_id)),
    );
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test('an expired initial access token is refused with 401', async () => {
    const token = await iat('--expires-in', '60');
    await t.db.query(
      `update oidc_models set expires_at = now() - interval '1 second' where model = 'InitialAccessToken' and id = $1`,
      [await storedRowId(t.db, 'InitialAccessToken', token)],
    );
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
    for (const uri of [
      'http://budget.example/cb',
      'https://*.budget.example/cb',
      'https://budget.example/*',
      'com.budget.app:/cb',
      'not a url',
    ]) {
      const { status, body } = await register(token, { redirect_uris: [uri] });
      assert.equal(status, 400, uri);
      assert.equal(body.error, 'invalid_redirect_uri', uri);
      assert.match(String(body.error_description), /^redirect_uris /, uri);
    }
    const native = await register(token, {
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1:53117/cb'],
      token_endpoint_auth_method: 'none',
    });
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
    const unreachable = await register(token, {
      ...spanning,
      sector_identifier_uri: 'https://127.0.0.1:1/sector.json',
    });
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
    const ssa = await statement({
      software_id: 'budget-42',
      client_name: 'Budget (verified)',
      redirect_uris: ['https://budget.example/cb'],
    });
    const { status, body } = await register(await iat(), {
      ...WEB,
      client_name: 'Anything I like',
      software_statement: ssa,
    });
    assert.equal(status, 201, JSON.stringify(body));
    assert.equal(body.client_name, 'Budget (verified)');
    assert.equal(body.software_id, 'budget-42');
    assert.equal(body.software_statement, ssa);
  });

  test('a forged, expired, unsigned or wrongly issued statement is rejected', async () => {
    const token = await iat();
    const untrusted = await register(token, {
      ...WEB,
      software_statement: await statement({ software_id: 'x' }, strangerKey, 'stranger-1'),
    });
    assert.equal(untrusted.status, 400);
    assert.equal(untrusted.body.error, 'unapproved_software_statement');
    const forged = await register(token, {
      ...WEB,
      software_statement: await statement({ software_id: 'x' }, strangerKey),
    });
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

    const otherIssuer = await new SignJWT({ software_id: 'x' })
      .setProtectedHeader({ alg: 'ES256', kid: 'dir-1' })
      .setIssuer('https://elsewhere.example')
      .setIssuedAt()
      .sign(directoryKey);
    assert.equal(
      (await register(token, { ...WEB, software_statement: otherIssuer })).body.error,
      'invalid_software_statement',
    );
  });

  test('with SOFTWARE_STATEMENT_REQUIRED a registration without a statement is refused', async () => {
    const jwksFile = path.join(dir.path, 'directory.jwks.json');
    const strict = await startTestKluis(t.url, {
      SOFTWARE_STATEMENT_JWKS: jwksFile,
      SOFTWARE_STATEMENT_ISSUER: DIRECTORY,
      SOFTWARE_STATEMENT_REQUIRED: 'true',
    });
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

    const metadata = updatable(current);
    const update = await fetch(uri, {
      method: 'PUT',
      headers: { ...bearer(registered.registration_access_token), 'content-type': 'application/json' },
      body: JSON.stringify({
        ...metadata,
        client_name: 'Renamed',
        redirect_uris: ['https://budget.example/cb', 'https://budget.example/cb2'],
      }),
    });
    assert.equal(update.status, 200);
    const updated = (await update.json()) as Record<string, unknown>;
    assert.deepEqual(updated.redirect_uris, ['https://budget.example/cb', 'https://budget.example/cb2']);
    assert.equal(updated.client_name, 'Budget (verified)', 'the statement still decides the name');
    assert.notEqual(updated.registration_access_token, registered.registration_access_token, 'rotated');
    assert.equal(
      (await fetch(uri, { headers: bearer(registered.registration_access_token) })).status,
      401,
      'the old one is gone',
    );

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

describe('software statements cannot take over clients (RFC 7591 2.3, 3.2.1)', () => {
  const bearer = (token: unknown) => ({ authorization: `Bearer ${String(token)}` });

  async function clientCredentialsToken(client: Record<string, unknown>): Promise<string> {
    const res = await fetch(new URL('/token', kluis.issuer), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${String(client.client_id)}:${String(client.client_secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { access_token: string }).access_token;
  }

  test("a directory-signed introspect_any_token is refused, and a statement-registered client cannot introspect another client's token", async () => {
    const token = await iat();
    const claimed = await register(token, {
      ...WEB,
      software_statement: await statement({ software_id: 'spy', introspect_any_token: true }),
    });
    assert.equal(claimed.status, 400, JSON.stringify(claimed.body));
    assert.equal(claimed.body.error, 'invalid_software_statement');
    assert.match(String(claimed.body.error_description), /must not set introspect_any_token/);
    const { rows } = await t.db.query(
      `select 1 from oidc_models where model = 'Client' and payload->>'introspect_any_token' = 'true'`,
    );
    assert.equal(rows.length, 0, 'no client holds the flag');

    const operators = await registerClient(t.url, M2M_METADATA);
    const victimToken = await clientCredentialsToken(operators);
    const { body: spy } = await register(token, {
      ...WEB,
      software_statement: await statement({ software_id: 'spy-2' }),
    });
    const res = await fetch(new URL('/token/introspection', kluis.issuer), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${String(spy.client_id)}:${String(spy.client_secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: victimToken }),
    });
    assert.deepEqual(await res.json(), { active: false });
  });

  test("a statement naming an existing client's client_id is refused and that client is left exactly as it was", async () => {
    const existing = await registerClient(t.url, {
      client_name: 'Bank app',
      redirect_uris: ['https://bank.example/cb'],
    });
    const before = await t.db.query(`select payload from oidc_models where model = 'Client' and id = $1`, [
      existing.client_id,
    ]);
    const takeover = await statement({ client_id: existing.client_id, redirect_uris: ['https://evil.example/cb'] });
    const { status, body } = await register(await iat(), {
      redirect_uris: ['https://evil.example/cb'],
      software_statement: takeover,
    });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_software_statement');
    assert.match(String(body.error_description), /must not set client_id/);
    const after = await t.db.query(`select payload from oidc_models where model = 'Client' and id = $1`, [
      existing.client_id,
    ]);
    assert.deepEqual(after.rows, before.rows);
    const evil = await t.db.query(
      `select 1 from oidc_models where model = 'Client' and payload::text like '%evil.example%'`,
    );
    assert.equal(evil.rows.length, 0);
  });

  test('a statement setting client_secret, issue or expiry times, or registration_* fields is refused naming them', async () => {
    const token = await iat();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ client_secret: 'chosen-by-the-directory' }, /must not set client_secret$/],
      [{ client_id_issued_at: 1 }, /client_id_issued_at/],
      [{ client_secret_expires_at: 4102444800 }, /client_secret_expires_at/],
      [
        { registration_client_uri: 'https://evil.example/reg', registration_access_token: 'known' },
        /registration_client_uri, registration_access_token/,
      ],
      [{ software_statement: 'eyJ.nested.jwt' }, /software_statement/],
    ];
    for (const [claims, description] of cases) {
      const { status, body } = await register(token, { ...WEB, software_statement: await statement(claims) });
      assert.equal(status, 400, JSON.stringify(claims));
      assert.equal(body.error, 'invalid_software_statement', JSON.stringify(body));
      assert.match(String(body.error_description), description);
    }
    const { rows } = await t.db.query(
      `select 1 from oidc_models where model = 'Client' and payload::text like '%chosen-by-the-directory%'`,
    );
    assert.equal(rows.length, 0);
  });

  test("a directory's own claims that are not client metadata are ignored; the policy judges what the statement set", async () => {
    const token = await iat();
    const ssa = await statement({
      software_id: 'budget-44',
      org_name: 'Budget BV',
      software_roles: ['AISP'],
      client_name: 'Budget',
    });
    const { status, body } = await register(token, { ...WEB, software_statement: ssa });
    assert.equal(status, 201, JSON.stringify(body));
    assert.equal(body.org_name, undefined);
    assert.equal(body.software_roles, undefined);
    // A statement's redirect URIs get the same rules as the client's own.
    const plain = await register(token, {
      ...WEB,
      software_statement: await statement({ redirect_uris: ['http://budget.example/cb'] }),
    });
    assert.equal(plain.status, 400);
    assert.equal(plain.body.error, 'invalid_redirect_uri');
    const publicSubject = await register(token, {
      ...WEB,
      software_statement: await statement({ subject_type: 'public' }),
    });
    assert.equal(publicSubject.body.error, 'invalid_client_metadata');
  });

  test('a registration only ever inserts: a client id already taken is refused at the database, not overwritten', async () => {
    const existing = await registerClient(t.url, { client_name: 'Taken', redirect_uris: ['https://taken.example/cb'] });
    const { box } = await loadServerSecrets(t.db, { secret: undefined, production: false });
    const newClients = new NewClients();
    const clients = newClients.adapters((model) => new PostgresAdapter(model, t.db, box))('Client');
    newClients.expect(String(existing.client_id));
    await assert.rejects(
      clients.upsert(String(existing.client_id), {
        client_id: existing.client_id,
        redirect_uris: ['https://evil.example/cb'],
      }),
      (err: Error & { error?: string }) => err.error === 'invalid_client_metadata',
    );
    assert.deepEqual((await clients.find(String(existing.client_id)))!.redirect_uris, ['https://taken.example/cb']);
  });

  test('RFC 7592 read never returns client_secret; the registration showed it once', async () => {
    const { body: registered } = await register(await iat(), WEB);
    assert.ok(registered.client_secret, 'shown at registration');
    const read = await fetch(String(registered.registration_client_uri), {
      headers: bearer(registered.registration_access_token),
    });
    const current = (await read.json()) as Record<string, unknown>;
    assert.equal(read.status, 200);
    assert.equal(current.client_secret, undefined);
    assert.ok(!JSON.stringify(current).includes(String(registered.client_secret)));
    const metadata = updatable(current);
    const update = await fetch(String(registered.registration_client_uri), {
      method: 'PUT',
      headers: { ...bearer(registered.registration_access_token), 'content-type': 'application/json' },
      body: JSON.stringify({ ...metadata, client_name: 'Budget renamed' }),
    });
    assert.equal(update.status, 200);
    const updated = (await update.json()) as Record<string, unknown>;
    assert.equal(updated.client_secret, undefined, 'an update keeps the secret and does not show it again');
    assert.ok(!JSON.stringify(updated).includes(String(registered.client_secret)));
  });
});

describe('registration access tokens expire (RFC 7592 3)', () => {
  const bearer = (token: unknown) => ({ authorization: `Bearer ${String(token)}` });
  const ratRows = (clientId: unknown) =>
    t.db.query<{ expires_at: Date | null }>(
      `select expires_at from oidc_models where model = 'RegistrationAccessToken' and payload->>'clientId' = $1`,
      [clientId],
    );

  test('REGISTRATION_ACCESS_TOKEN_TTL is seconds, 300 to a year, 30 days by default', () => {
    assert.equal(loadConfig({}).registration.accessTokenTtl, 30 * 86400);
    assert.equal(loadConfig({ REGISTRATION_ACCESS_TOKEN_TTL: '3600' }).registration.accessTokenTtl, 3600);
    assert.throws(
      () => loadConfig({ REGISTRATION_ACCESS_TOKEN_TTL: 'soon' }),
      /^ConfigError: REGISTRATION_ACCESS_TOKEN_TTL must be a whole number of seconds \(got "soon"\)$/,
    );
    assert.throws(
      () => loadConfig({ REGISTRATION_ACCESS_TOKEN_TTL: '10' }),
      /REGISTRATION_ACCESS_TOKEN_TTL must be at least 300 seconds/,
    );
  });

  test('upgrading gives a registration access token issued without an expiry the default 30 days (migration 0009)', async () => {
    await t.db.query(
      `insert into oidc_models (model, id, payload) values ('RegistrationAccessToken', 'legacy-rat', '{"clientId":"legacy"}')`,
    );
    await t.db.query(await readFile(path.join(ROOT, 'migrations/0009_registration_token_expiry.sql'), 'utf8'));
    const [row] = (await ratRows('legacy')).rows;
    assert.ok(
      row?.expires_at && Math.abs(row.expires_at.getTime() - (Date.now() + 30 * 86_400_000)) < 60_000,
      String(row?.expires_at),
    );
  });

  test('a token lives REGISTRATION_ACCESS_TOKEN_TTL; each update issues a fresh one; once expired GET, PUT and DELETE are 401 invalid_token', async () => {
    const short = await startTestKluis(t.url, { REGISTRATION_ACCESS_TOKEN_TTL: '3600' });
    try {
      const res = await fetch(new URL('/reg', short.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(await iat()) },
        body: JSON.stringify(WEB),
      });
      const registered = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 201);
      const uri = String(registered.registration_client_uri);
      const [row] = (await ratRows(registered.client_id)).rows;
      assert.ok(row?.expires_at, 'the token has an expiry');
      assert.ok(Math.abs(row.expires_at.getTime() - (Date.now() + 3_600_000)) < 60_000, String(row.expires_at));

      await t.db.query(
        `update oidc_models set expires_at = now() + interval '1 minute' where model = 'RegistrationAccessToken' and payload->>'clientId' = $1`,
        [registered.client_id],
      );
      const update = await fetch(uri, {
        method: 'PUT',
        headers: { ...bearer(registered.registration_access_token), 'content-type': 'application/json' },
        body: JSON.stringify({ ...WEB, client_id: registered.client_id }),
      });
      assert.equal(update.status, 200);
      const rotated = ((await update.json()) as Record<string, unknown>).registration_access_token;
      const rows = (await ratRows(registered.client_id)).rows;
      assert.equal(rows.length, 1, 'the old token is gone');
      assert.ok(rows[0]!.expires_at!.getTime() > Date.now() + 3_500_000, 'the new token has the full lifetime');

      await t.db.query(
        `update oidc_models set expires_at = now() - interval '1 second' where model = 'RegistrationAccessToken' and payload->>'clientId' = $1`,
        [registered.client_id],
      );
      const attempts = [
        await fetch(uri, { headers: bearer(rotated) }),
        await fetch(uri, {
          method: 'PUT',
          headers: { ...bearer(rotated), 'content-type': 'application/json' },
          body: JSON.stringify({ ...WEB, client_id: registered.client_id, redirect_uris: ['https://evil.example/cb'] }),
        }),
        await fetch(uri, { method: 'DELETE', headers: bearer(rotated) }),
      ];
      for (const attempt of attempts) {
        assert.equal(attempt.status, 401, attempt.url);
        assert.equal(((await attempt.json()) as { error: string }).error, 'invalid_token');
      }
      const { rows: client } = await t.db.query(
        `select payload->'redirect_uris' as uris from oidc_models where model = 'Client' and id = $1`,
        [registered.client_id],
      );
      assert.deepEqual(client[0]?.uris, WEB.redirect_uris, 'the client is unchanged and still there');
    } finally {
      await short.stop();
    }
  });
});

describe('what a client may call itself (client_name, text and URIs)', () => {
  const bearer = (token: unknown) => ({ authorization: `Bearer ${String(token)}` });
  const NAMES: [string, RegExp][] = [
    ['B'.repeat(20_000), /client_name must be at most 100 characters/],
    ['Budget \u202Eppa\u202C', /client_name must not contain control, formatting or invisible characters/],
    ['Budget\u200Bapp', /client_name must not contain control, formatting or invisible characters/],
    ['Budget\napp', /client_name must not contain control, formatting or invisible characters/],
    ['Your Kluis account', /client_name must not name Kluis/],
    ['Kluis demo app', /client_name must not name Kluis/],
    ['KLUIS', /client_name must not name Kluis/],
    ['K l u i s', /client_name must not name Kluis/],
    ['Kluіs Bank', /client_name must not name Kluis/], // Cyrillic і
    ['K1uis', /client_name must not name Kluis/],
  ];

  test('dynamic registration refuses over-long names, bidi and other invisible characters, and names passing for Kluis', async () => {
    const token = await iat();
    // Other tests in this file register names like 'Spaarkluis': only what this test stores may differ.
    const suspicious = async () =>
      (
        await t.db.query(
          `select id from oidc_models where model = 'Client' and (length(payload->>'client_name') > 100 or payload->>'client_name' ilike '%kluis%') order by id`,
        )
      ).rows.map((row) => row.id);
    const stored = await suspicious();
    assert.ok(stored.includes('kluis-account'), JSON.stringify(stored));
    for (const [name, description] of NAMES) {
      const { status, body } = await register(token, { ...WEB, client_name: name });
      assert.equal(status, 400, JSON.stringify(name));
      assert.equal(body.error, 'invalid_client_metadata', JSON.stringify(body));
      assert.match(String(body.error_description), description);
    }
    assert.deepEqual(await suspicious(), stored, "nothing stored beside Kluis's own account area");
    assert.equal(
      (await register(token, { ...WEB, client_name: 'Spaarkluis' })).status,
      201,
      'a word merely ending in it is a name like any other',
    );
    const long = await register(token, { ...WEB, policy_uri: `https://budget.example/${'p'.repeat(2100)}` });
    assert.match(String(long.body.error_description), /policy_uri must be at most 2000 characters/);
    const many = await register(token, {
      ...WEB,
      redirect_uris: Array.from({ length: 21 }, (_, i) => `https://budget.example/cb${i}`),
    });
    assert.match(String(many.body.error_description), /redirect_uris must list at most 20 URIs/);
  });

  test('the same rules hold for an RFC 7592 update and for a software statement', async () => {
    const { body: registered } = await register(await iat(), WEB);
    const update = await fetch(String(registered.registration_client_uri), {
      method: 'PUT',
      headers: { ...bearer(registered.registration_access_token), 'content-type': 'application/json' },
      body: JSON.stringify({ ...WEB, client_id: registered.client_id, client_name: 'Your Kluis account' }),
    });
    assert.equal(update.status, 400);
    assert.match(
      ((await update.json()) as { error_description: string }).error_description,
      /client_name must not name Kluis/,
    );

    const signed = await register(await iat(), {
      ...WEB,
      software_statement: await statement({ client_name: 'Kluis demo app' }),
    });
    assert.equal(signed.status, 400);
    assert.equal(signed.body.error, 'invalid_client_metadata');
    assert.match(String(signed.body.error_description), /client_name must not name Kluis/);
  });
});

describe('an RFC 7592 update claims its registration access token', () => {
  // A separate Kluis process, so that it trusts the local site holding its sector_identifier_uri fetches (the
  // registrant's own server decides how long an update stays in flight).
  let site: TlsSite;
  let server: KluisProcess;
  const held: Record<string, TlsHandler> = {};
  const bearer = (token: unknown) => ({ authorization: `Bearer ${String(token)}` });
  const ratCount = async (clientId: unknown) =>
    (
      await t.db.query(
        `select 1 from oidc_models where model = 'RegistrationAccessToken' and payload->>'clientId' = $1`,
        [clientId],
      )
    ).rows.length;

  before(async () => {
    site = await startTlsSite({}, held);
    server = await spawnKluis({ DATABASE_URL: t.url, NODE_EXTRA_CA_CERTS: site.certFile });
  });
  after(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await site?.close();
  });

  async function call(method: string, uri: string, token: unknown, body?: Record<string, unknown>) {
    const res = await fetch(new URL(uri, server.issuer), {
      method,
      headers: { ...bearer(token), 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  }

  /** A registration, and an update of it whose sector_identifier_uri fetch waits until the test releases it. */
  async function registeredWithHeldUpdate(path: string) {
    const { body: registered } = await call('POST', '/reg', await iat(), WEB);
    assert.ok(registered.registration_access_token, JSON.stringify(registered));
    const sector = heldDocument(WEB.redirect_uris);
    held[path] = sector.handler;
    const update = (name: string) =>
      call('PUT', `/reg/${String(registered.client_id)}`, registered.registration_access_token, {
        ...WEB,
        client_id: registered.client_id,
        client_name: name,
        sector_identifier_uri: `${site.origin}${path}`,
      });
    return { registered, sector, update };
  }

  test('of 20 parallel updates with one registration access token exactly one succeeds, and one token is live afterwards', async () => {
    const { registered, sector, update } = await registeredWithHeldUpdate('/parallel.json');
    const updates = Array.from({ length: 20 }, (_, i) => update(`Budget ${i}`));
    // Every update is past the token lookup and inside the policy before any of them may finish.
    await Promise.race([sector.arrived(20), new Promise((resolve) => setTimeout(resolve, 3000))]);
    assert.equal(sector.held, 20, 'all 20 updates were in flight together');
    sector.release();
    const answers = await Promise.all(updates);
    const statuses = answers.map((answer) => answer.status);
    assert.equal(statuses.filter((status) => status === 200).length, 1, statuses.join());
    for (const answer of answers.filter((a) => a.status !== 200)) {
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error, 'invalid_token');
    }
    assert.equal(await ratCount(registered.client_id), 1, 'one registration access token row');
    let live = 0;
    for (const answer of answers) {
      const token = answer.body.registration_access_token;
      if (token && (await call('GET', `/reg/${String(registered.client_id)}`, token)).status === 200) live += 1;
    }
    assert.equal(live, 1, 'one live token');
    assert.equal(
      (await call('GET', `/reg/${String(registered.client_id)}`, registered.registration_access_token)).status,
      401,
    );
  });

  test('a client removed (DELETE /reg or clients remove) while its update is in flight stays removed', async () => {
    for (const how of ['DELETE /reg', 'clients remove']) {
      const { registered, sector, update } = await registeredWithHeldUpdate(`/removed-${how.replace(/\W/g, '')}.json`);
      const updating = update('Resurrected');
      await sector.arrived(1);
      if (how === 'DELETE /reg') {
        assert.equal(
          (await call('DELETE', `/reg/${String(registered.client_id)}`, registered.registration_access_token)).status,
          204,
        );
      } else {
        // The command `kluis clients remove` runs, on a connection of its own as the CLI's process has. In process:
        // starting a CLI process can outlast the held fetch's timeout on a loaded machine.
        const cli = await openContext({ DATABASE_URL: t.url, LOG_LEVEL: 'silent' });
        try {
          await removeClient(cli, String(registered.client_id));
        } finally {
          await cli.connection.close();
        }
      }
      sector.release();
      const answer = await updating;
      assert.equal(answer.status, 401, `${how}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error, 'invalid_token');
      const { rows } = await t.db.query(`select 1 from oidc_models where model = 'Client' and id = $1`, [
        registered.client_id,
      ]);
      assert.equal(rows.length, 0, `${how}: the client stays removed`);
      assert.equal(await ratCount(registered.client_id), 0, `${how}: no registration access token`);
    }
  });

  test('an update writes over the existing client row only: a client removed meanwhile is not written back', async () => {
    const removed = await registerClient(t.url, {
      client_name: 'Removed',
      redirect_uris: ['https://removed.example/cb'],
    });
    await t.db.query(`delete from oidc_models where model = 'Client' and id = $1`, [removed.client_id]);
    const { box } = await loadServerSecrets(t.db, { secret: undefined, production: false });
    const newClients = new NewClients();
    const clients = newClients.adapters((model) => new PostgresAdapter(model, t.db, box))('Client');
    newClients.expectUpdate(String(removed.client_id));
    await assert.rejects(
      clients.upsert(String(removed.client_id), {
        client_id: removed.client_id,
        client_name: 'Resurrected',
        redirect_uris: ['https://removed.example/cb'],
      }),
      (err: Error & { error?: string }) => err.error === 'invalid_token',
    );
    assert.equal(await clients.find(String(removed.client_id)), undefined);
  });

  test('an update that fails validation does not use the token up', async () => {
    const { body: registered } = await call('POST', '/reg', await iat(), WEB);
    const uri = `/reg/${String(registered.client_id)}`;
    const bad = await call('PUT', uri, registered.registration_access_token, {
      ...WEB,
      client_id: registered.client_id,
      response_types: ['token'],
    });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    const good = await call('PUT', uri, registered.registration_access_token, {
      ...WEB,
      client_id: registered.client_id,
      client_name: 'Budget 2',
    });
    assert.equal(good.status, 200, JSON.stringify(good.body));
  });
});

describe('an RFC 7592 update keeps the software it was registered as (RFC 7591 2.3)', () => {
  const update = async (registered: Record<string, unknown>, token: unknown, metadata: Record<string, unknown>) => {
    const res = await fetch(String(registered.registration_client_uri), {
      method: 'PUT',
      headers: { authorization: `Bearer ${String(token)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: registered.client_id, ...metadata }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  test("a statement for another software is refused at an update; the same software's new statement is applied", async () => {
    const budget = await statement({ software_id: 'budget-swap', redirect_uris: ['https://budget.example/cb'] });
    const { body: registered } = await register(await iat(), { software_statement: budget });
    assert.equal(registered.software_id, 'budget-swap', JSON.stringify(registered));
    const evil = await statement({ software_id: 'evil', redirect_uris: ['https://evil.example/cb'] });
    const swapped = await update(registered, registered.registration_access_token, { software_statement: evil });
    assert.equal(swapped.status, 400, JSON.stringify(swapped.body));
    assert.equal(swapped.body.error, 'invalid_software_statement');
    assert.equal(swapped.body.error_description, 'a statement for other software needs a new registration');
    const { rows } = await t.db.query(
      `select payload->'redirect_uris' as uris, payload->>'software_id' as id from oidc_models where model = 'Client' and id = $1`,
      [registered.client_id],
    );
    assert.deepEqual(rows[0], { uris: ['https://budget.example/cb'], id: 'budget-swap' });

    const renewed = await statement({ software_id: 'budget-swap', redirect_uris: ['https://budget.example/cb2'] });
    const same = await update(registered, registered.registration_access_token, { software_statement: renewed });
    assert.equal(same.status, 200, JSON.stringify(same.body));
    assert.deepEqual(same.body.redirect_uris, ['https://budget.example/cb2']);
  });

  test('a client registered without a statement may add one at an update', async () => {
    const { body: registered } = await register(await iat(), WEB);
    const added = await update(registered, registered.registration_access_token, {
      ...WEB,
      software_statement: await statement({ software_id: 'budget-late' }),
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal(added.body.software_id, 'budget-late');
  });
});

describe('names passing for Kluis, invisible characters and lone surrogates', () => {
  test('look-alikes of Kluis (capital I, small capitals, Cherokee, Lisu) and invisible characters are refused', async () => {
    const token = await iat();
    const samples: [string, RegExp][] = [
      ['KIuis', /client_name must not name Kluis/],
      ['ᴋʟᴜɪꜱ', /client_name must not name Kluis/],
      ['Ꮶluis', /client_name must not name Kluis/],
      ['ꓗꓡuis', /client_name must not name Kluis/],
      ['\u3164Kluis', /client_name must not contain control, formatting or invisible characters/],
      ['Your\u3164Kluis account', /client_name must not contain control, formatting or invisible characters/],
      ['Budget\uFFA0app', /invisible characters/],
      ['Kluis\u2028', /invisible characters/],
      ['Budget\u2029app', /invisible characters/],
      ['x\uFE0Fy', /invisible characters/],
      ['K\u034Fluis', /invisible characters/],
    ];
    for (const [name, description] of samples) {
      const { status, body } = await register(token, { ...WEB, client_name: name });
      assert.equal(status, 400, JSON.stringify(name));
      assert.equal(body.error, 'invalid_client_metadata', JSON.stringify(body));
      assert.match(String(body.error_description), description, JSON.stringify(name));
    }
    assert.equal((await register(token, { ...WEB, client_name: 'Spaarkluis' })).status, 201);
  });

  test('a lone surrogate in client_name or client_uri is a 400, never a 500', async () => {
    const token = await iat();
    for (const metadata of [{ client_name: 'A\ud800B' }, { client_uri: 'https://budget.example/\ud800' }]) {
      const { status, body } = await register(token, { ...WEB, ...metadata });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_client_metadata', JSON.stringify(body));
    }
  });

  test('a lone surrogate anywhere in a stored payload is refused as a bad request, not a database error', async () => {
    const { box } = await loadServerSecrets(t.db, { secret: undefined, production: false });
    const clients = new ProviderAdapter(new PostgresAdapter('Client', t.db, box));
    await assert.rejects(
      clients.upsert('surrogate', {
        client_id: 'surrogate',
        redirect_uris: ['https://budget.example/cb'],
        jwks: { keys: [{ kid: 'a\ud800' }] },
      }),
      (err: Error & { error?: string; status?: number }) => err.error === 'invalid_request' && err.status === 400,
    );
  });
});

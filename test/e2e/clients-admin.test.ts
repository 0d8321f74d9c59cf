import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { M2M_METADATA, registerClient } from '../support/clients.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { runCli, type TestKluis } from '../support/kluis.ts';

// Client administration as an operator does it at the CLI, observed the way clients observe it: over HTTP.
let t: TestDatabase;
let kluis: TestKluis;
let env: Record<string, string>;
let house: KluisFixture<never, never>;

before(async () => {
  house = await withKluis();
  ({ database: t, kluis } = house);
  env = { DATABASE_URL: t.url };
});
after(() => house?.stop());

async function cli(...args: string[]) {
  const result = await runCli(args, env);
  return { ...result, json: result.code === 0 ? (JSON.parse(result.stdout) as Record<string, unknown>) : undefined };
}

function assertRefused(result: { code: number | null; stdout: string; stderr: string }, pattern: RegExp) {
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, pattern);
}

async function token(clientId: unknown, secret: unknown): Promise<Response> {
  return fetch(new URL('/token', kluis.issuer), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${String(clientId)}:${String(secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
}

async function auditTypes(clientId: unknown): Promise<string[]> {
  const { rows } = await t.db.query<{ type: string }>(
    'select type from audit_events where client_id = $1 order by id',
    [clientId],
  );
  return rows.map((row) => row.type);
}

describe('client administration', () => {
  test('clients update merges metadata, removes fields set to null, validates like a registration, and is audited', async () => {
    const web = await registerClient(t.url, {
      redirect_uris: ['https://shop.example/cb'],
      client_name: 'Shop',
      policy_uri: 'https://shop.example/privacy',
    });
    const { json } = await cli(
      'clients',
      'update',
      String(web.client_id),
      '--metadata',
      JSON.stringify({ client_name: 'Shop 2', policy_uri: null }),
    );
    assert.equal(json!.client_name, 'Shop 2');
    assert.equal(json!.policy_uri, undefined);
    assert.equal(json!.client_secret, undefined, 'the secret is never printed again');
    assert.deepEqual(json!.redirect_uris, ['https://shop.example/cb']);

    assertRefused(
      await cli(
        'clients',
        'update',
        String(web.client_id),
        '--metadata',
        '{"redirect_uris":["http://shop.example/cb"]}',
      ),
      /^kluis: invalid_redirect_uri: redirect_uris must use https/,
    );
    assertRefused(
      await cli(
        'clients',
        'update',
        String(web.client_id),
        '--metadata',
        '{"redirect_uris":["https://*.shop.example/cb"]}',
      ),
      /wildcards/,
    );
    assertRefused(
      await cli('clients', 'update', String(web.client_id), '--metadata', '{"client_secret":"mine"}'),
      /client_secret cannot be changed; use clients rotate-secret/,
    );
    assertRefused(
      await cli('clients', 'update', 'no-such-client', '--metadata', '{}'),
      /no client with id no-such-client/,
    );
    const shown = await cli('clients', 'show', String(web.client_id));
    assert.equal(shown.json!.client_name, 'Shop 2', 'a refused update changed nothing');
    assert.ok((await auditTypes(web.client_id)).includes('client.updated'));
  });

  test('clients rotate-secret: the new secret works at once, the old one until the grace period ends', async () => {
    const m2m = await registerClient(t.url, M2M_METADATA);
    const { json } = await cli('clients', 'rotate-secret', String(m2m.client_id));
    assert.ok(json!.client_secret && json!.client_secret !== m2m.client_secret);
    assert.ok(
      Date.parse(String(json!.previous_secret_valid_until)) > Date.now() + 86_000_000,
      'CLIENT_SECRET_ROTATION_GRACE defaults to a day',
    );
    assert.equal((await token(m2m.client_id, json!.client_secret)).status, 200);
    assert.equal(
      (await token(m2m.client_id, m2m.client_secret)).status,
      200,
      'the old secret still works during the grace period',
    );

    const { json: again } = await cli('clients', 'rotate-secret', String(m2m.client_id), '--grace', '0');
    assert.equal(again!.previous_secret_valid_until, null);
    assert.equal((await token(m2m.client_id, again!.client_secret)).status, 200);
    assert.equal(
      (await token(m2m.client_id, json!.client_secret)).status,
      401,
      'no grace: the previous secret stops at once',
    );
    assert.equal(
      (await token(m2m.client_id, m2m.client_secret)).status,
      200,
      'the first secret keeps its own grace period',
    );
    await t.db.query(`update previous_client_secrets set expires_at = now() where client_id = $1`, [m2m.client_id]);
    assert.equal(
      (await token(m2m.client_id, m2m.client_secret)).status,
      401,
      'after its grace period the old secret is refused',
    );

    assertRefused(
      await cli('clients', 'rotate-secret', String(m2m.client_id), '--grace', 'soon'),
      /--grace must be a whole number of seconds/,
    );
    assert.deepEqual((await auditTypes(m2m.client_id)).filter((type) => type === 'client.secret_rotated').length, 2);
    const { rows } = await t.db.query(`select details::text from audit_events where type = 'client.secret_rotated'`);
    assert.ok(
      rows.every((row) => !JSON.stringify(row).includes(String(json!.client_secret))),
      'no secret in the audit log',
    );
  });

  test('clients disable: the client cannot authenticate and its tokens stop working; enable restores it', async () => {
    const m2m = await registerClient(t.url, M2M_METADATA);
    const api = await registerClient(t.url, { ...M2M_METADATA, introspect_any_token: true });
    const { access_token } = (await (await token(m2m.client_id, m2m.client_secret)).json()) as { access_token: string };
    const introspect = async () => {
      const res = await fetch(new URL('/token/introspection', kluis.issuer), {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${String(api.client_id)}:${String(api.client_secret)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: `token=${access_token}`,
      });
      return ((await res.json()) as { active: boolean }).active;
    };
    assert.equal(await introspect(), true);

    assert.equal((await cli('clients', 'disable', String(m2m.client_id))).json!.status, 'disabled');
    const refused = await token(m2m.client_id, m2m.client_secret);
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { error: string }).error, 'invalid_client');
    assert.equal(await introspect(), false, "a disabled client's token is inactive");
    const listed = JSON.parse((await runCli(['clients', 'list'], env)).stdout) as {
      client_id: string;
      status: string;
    }[];
    assert.equal(listed.find((c) => c.client_id === m2m.client_id)!.status, 'disabled');

    assert.equal((await cli('clients', 'enable', String(m2m.client_id))).json!.status, 'active');
    assert.equal((await token(m2m.client_id, m2m.client_secret)).status, 200);
    assert.deepEqual(
      (await auditTypes(m2m.client_id)).filter((type) => type.startsWith('client.') && type !== 'client.created'),
      ['client.disabled', 'client.enabled'],
    );
  });

  test('iat create prints a token once with its expiry; bad options are refused in one line', async () => {
    const { json } = await cli('iat', 'create', '--expires-in', '3600', '--single-use');
    assert.match(String(json!.initial_access_token), /^[\w-]{40,}$/);
    assert.equal(json!.single_use, true);
    assert.ok(Math.abs(Date.parse(String(json!.expires_at)) - (Date.now() + 3_600_000)) < 60_000);
    assertRefused(
      await cli('iat', 'create', '--expires-in', '10'),
      /--expires-in must be a whole number of seconds between 60 and 31536000/,
    );
    const { rows } = await t.db.query<{ details: Record<string, unknown> }>(
      `select details from audit_events where type = 'initial_access_token.created'`,
    );
    assert.equal(rows.length, 1);
    assert.ok(
      !JSON.stringify(rows[0]!.details).includes(String(json!.initial_access_token)),
      'the token value is not in the audit log',
    );
  });

  test('a client given introspect_any_token must authenticate', async () => {
    const result = await runCli(
      ['clients', 'add'],
      env,
      JSON.stringify({
        ...M2M_METADATA,
        introspect_any_token: true,
        token_endpoint_auth_method: 'none',
        grant_types: [],
      }),
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /introspect_any_token requires a client that authenticates/);
  });
});

describe('what the operator may name a client', () => {
  test('clients add and update refuse over-long or invisible-character names, names passing for Kluis, and its own ids', async () => {
    const add = (metadata: Record<string, unknown>) => runCli(['clients', 'add'], env, JSON.stringify(metadata));
    assertRefused(
      await add({ ...M2M_METADATA, client_name: 'x'.repeat(20_000) }),
      /^kluis: invalid_client_metadata: client_name must be at most 100 characters\n$/,
    );
    assertRefused(
      await add({ ...M2M_METADATA, client_name: 'Ledger \u202Ecnys' }),
      /client_name must not contain control, formatting or invisible characters/,
    );
    assertRefused(await add({ ...M2M_METADATA, client_name: 'Your Kluis account' }), /client_name must not name Kluis/);
    assertRefused(await add({ ...M2M_METADATA, client_name: 'Kluis demo app' }), /client_name must not name Kluis/);
    assertRefused(
      await add({ ...M2M_METADATA, client_id: 'kluis-demo' }),
      /client id kluis-demo is reserved for Kluis's own client/,
    );
    assertRefused(await add({ ...M2M_METADATA, client_name: 'KIuis' }), /client_name must not name Kluis/);
    assertRefused(await add({ ...M2M_METADATA, client_name: 'Your\u3164Kluis account' }), /invisible characters/);

    const ledger = await registerClient(t.url, { ...M2M_METADATA, client_name: 'Ledger' });
    assertRefused(
      await cli('clients', 'update', String(ledger.client_id), '--metadata', JSON.stringify({ client_name: 'KLUIS' })),
      /client_name must not name Kluis/,
    );
    assertRefused(
      await cli('clients', 'update', 'kluis-account', '--metadata', '{"client_name":"Mine"}'),
      /kluis-account is Kluis's own client/,
    );
    assert.equal(
      (await cli('clients', 'show', String(ledger.client_id))).json!.client_name,
      'Ledger',
      'a refused update changed nothing',
    );
  });

  test('a lone surrogate in client_name or client_uri is refused in one line, never a crash', async () => {
    const add = (metadata: Record<string, unknown>) => runCli(['clients', 'add'], env, JSON.stringify(metadata));
    for (const metadata of [{ client_name: 'Ledger \ud800' }, { client_uri: 'https://ledger.example/\ud800' }]) {
      const result = await add({ ...M2M_METADATA, ...metadata });
      assertRefused(
        result,
        /^kluis: invalid_client_metadata: client_(name|uri) must not contain control, formatting or invisible characters\n$/,
      );
    }
  });

  test('with an https issuer, client, policy, terms, logo and key URIs must be https', async () => {
    const production = await createTestDatabase();
    try {
      const prodEnv = {
        DATABASE_URL: production.url,
        ISSUER: 'https://login.bank.example',
        KLUIS_SECRET: randomBytes(32).toString('base64'),
        TRUST_PROXY: 'true',
      };
      const web = { client_name: 'Shop', redirect_uris: ['https://shop.example/cb'] };
      for (const field of ['client_uri', 'policy_uri', 'tos_uri', 'logo_uri', 'jwks_uri']) {
        const extra = field === 'jwks_uri' ? { token_endpoint_auth_method: 'private_key_jwt' } : {};
        const result = await runCli(
          ['clients', 'add'],
          prodEnv,
          JSON.stringify({ ...web, ...extra, [field]: `http://shop.example/${field}` }),
        );
        assertRefused(result, new RegExp(`^kluis: invalid_client_metadata: ${field} must use https\\n$`));
      }
      const fine = await runCli(
        ['clients', 'add'],
        prodEnv,
        JSON.stringify({ ...web, policy_uri: 'https://shop.example/privacy' }),
      );
      assert.equal(fine.code, 0, fine.stderr);
      const added = JSON.parse(fine.stdout) as { client_id: string };
      assertRefused(
        await runCli(
          ['clients', 'update', added.client_id, '--metadata', '{"tos_uri":"http://shop.example/terms"}'],
          prodEnv,
        ),
        /tos_uri must use https/,
      );
    } finally {
      await production.drop();
    }
  });
});

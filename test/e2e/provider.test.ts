import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { addResourceServer, removeResourceServer } from '../../src/db/resource-servers.ts';
import type { TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { M2M_METADATA, registerClient, relyingParty } from '../support/clients.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import type { TestKluis } from '../support/kluis.ts';

// Kluis driven over real HTTP the way a relying party and a resource server drive it, with openid-client.
let t: TestDatabase;
let kluis: TestKluis;
let clientA: AdapterPayload;
let clientB: AdapterPayload;
let resourceServer: AdapterPayload;
const API = 'https://api.bank.example/payments';
let house: KluisFixture<'clientA' | 'clientB' | 'resourceServer', never>;

before(async () => {
  house = await withKluis({
    resourceServers: [
      {
        identifier: API,
        scope: 'payments:read payments:write',
        accessTokenFormat: 'jwt',
        signingAlg: 'PS256',
        accessTokenTtl: 300,
      },
    ],
    clients: {
      clientA: { ...M2M_METADATA, client_name: 'A', scope: 'payments:read' },
      clientB: { ...M2M_METADATA, client_name: 'B' },
      resourceServer: { ...M2M_METADATA, client_name: 'Payments API', introspect_any_token: true },
    },
  });
  ({ database: t, kluis } = house);
  ({ clientA, clientB, resourceServer } = house.clients);
});
after(() => house?.stop());

const get = (path: string, init?: RequestInit) => fetch(new URL(path, kluis.url), init);

describe('discovery and keys', () => {
  test('discovery names the exact issuer and only the code flow with PKCE S256 and asymmetric algorithms', async () => {
    const res = await get('/.well-known/openid-configuration');
    assert.equal(res.status, 200);
    const meta = (await res.json()) as Record<string, unknown>;
    assert.equal(meta.issuer, kluis.issuer);
    assert.deepEqual(meta.response_types_supported, ['code']);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.ok(!(meta.grant_types_supported as string[]).includes('password'));
    assert.ok(!(meta.grant_types_supported as string[]).includes('implicit'));
    for (const key of [
      'id_token_signing_alg_values_supported',
      'token_endpoint_auth_signing_alg_values_supported',
      'userinfo_signing_alg_values_supported',
    ]) {
      const algs = (meta[key] as string[] | undefined) ?? [];
      assert.ok(
        algs.every((alg) => ['PS256', 'ES256', 'EdDSA'].includes(alg)),
        `${key}: ${algs.join(',')}`,
      );
    }
    assert.equal(meta.authorization_response_iss_parameter_supported, true);
  });

  test('the JWKS publishes ES256, PS256 and EdDSA public keys with unique kids and no private members', async () => {
    const { keys } = (await (await get('/jwks')).json()) as { keys: Record<string, unknown>[] };
    assert.deepEqual(new Set(keys.map((k) => k.alg)), new Set(['ES256', 'PS256', 'EdDSA']));
    assert.equal(new Set(keys.map((k) => k.kid)).size, keys.length);
    for (const key of keys)
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.ok(!(member in key), `${key.kid} has ${member}`);
    const rsa = keys.find((k) => k.kty === 'RSA')!;
    assert.ok(Buffer.from(String(rsa.n), 'base64url').length * 8 >= 2048);
  });

  test('discovery and the JWKS are answered without the database, the rate-limit counters included', async () => {
    // Every statement, a rate-limit hit's too, takes a connection from the one pool; /readyz shows it is seen.
    let acquired = 0;
    const count = () => acquired++;
    const pool = kluis.connection.db.pool;
    pool.on('acquire', count);
    try {
      await (await get('/readyz')).arrayBuffer();
      assert.ok(acquired > 0, 'the readiness probe queries Postgres');
      acquired = 0;
      for (let i = 0; i < 20; i++) {
        for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks']) {
          const res = await get(path);
          await res.arrayBuffer();
          assert.equal(res.status, 200, path);
        }
      }
      assert.equal(acquired, 0);
    } finally {
      pool.off('acquire', count);
    }
  });
});

describe('client credentials, introspection, revocation', () => {
  test('a client gets an opaque access token that introspects active, then inactive after revocation', async () => {
    const rp = await relyingParty(kluis.issuer, clientA);
    const tokens = await oidc.clientCredentialsGrant(rp, {});
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.access_token.split('.').length, 1, 'opaque, not a JWT');
    assert.ok(tokens.access_token.length >= 43, 'at least 256 bits of randomness');
    assert.ok(tokens.expires_in! > 0 && tokens.expires_in! <= 600);

    assert.equal((await oidc.tokenIntrospection(rp, tokens.access_token)).active, true);
    await oidc.tokenRevocation(rp, tokens.access_token);
    assert.equal((await oidc.tokenIntrospection(rp, tokens.access_token)).active, false);
  });

  test('the token response is not cacheable', async () => {
    const res = await get('/token', {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientA.client_id}:${clientA.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('cache-control') ?? '', /no-store/);
  });

  test('a wrong client secret is refused with 401 invalid_client', async () => {
    const rp = await relyingParty(kluis.issuer, { ...clientA, client_secret: 'wrong' });
    await assert.rejects(oidc.clientCredentialsGrant(rp, {}), (err: oidc.WWWAuthenticateChallengeError) => {
      assert.equal(err.status, 401);
      assert.equal(err.cause[0]?.parameters.error, 'invalid_client');
      return true;
    });
  });

  test('token, introspection and revocation requests without client authentication are refused with 401 invalid_client', async () => {
    for (const path of ['/token/introspection', '/token/revocation', '/token']) {
      const res = await get(path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'token=abc&grant_type=client_credentials',
      });
      assert.equal(res.status, 401, path);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
    }
  });

  test("a client learns nothing about another client's token and cannot revoke it", async () => {
    const tokenOfA = (await oidc.clientCredentialsGrant(await relyingParty(kluis.issuer, clientA), {})).access_token;
    const rpB = await relyingParty(kluis.issuer, clientB);
    assert.equal((await oidc.tokenIntrospection(rpB, tokenOfA)).active, false);
    await oidc.tokenRevocation(rpB, tokenOfA);
    assert.equal((await oidc.tokenIntrospection(await relyingParty(kluis.issuer, clientA), tokenOfA)).active, true);
  });

  test("a client marked introspect_any_token (a resource server) can introspect other clients' tokens", async () => {
    const tokenOfA = (await oidc.clientCredentialsGrant(await relyingParty(kluis.issuer, clientA), {})).access_token;
    const result = await oidc.tokenIntrospection(await relyingParty(kluis.issuer, resourceServer), tokenOfA);
    assert.equal(result.active, true);
    assert.equal(result.client_id, clientA.client_id);
  });

  test('a token for a registered resource server is a JWT signed by a published key, scoped and short-lived', async () => {
    const tokens = await oidc.clientCredentialsGrant(await relyingParty(kluis.issuer, clientA), {
      resource: API,
      scope: 'payments:read',
    });
    assert.equal(tokens.scope, 'payments:read');
    const jwks = createLocalJWKSet((await (await get('/jwks')).json()) as { keys: [] });
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: kluis.issuer,
      audience: API,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.alg, 'PS256');
    assert.equal(payload.client_id, clientA.client_id);
    assert.ok(payload.exp! - payload.iat! <= 300);
  });

  test("a scope outside the client's registered scope is refused with invalid_scope", async () => {
    await assert.rejects(
      oidc.clientCredentialsGrant(await relyingParty(kluis.issuer, clientA), {
        resource: API,
        scope: 'payments:write',
      }),
      (err: oidc.ResponseBodyError) => err.error === 'invalid_scope',
    );
  });

  test("a client registered without scope gets none of an API's scopes, with or without a resource indicator", async () => {
    const rp = await relyingParty(kluis.issuer, clientB);
    const variants: Record<string, string>[] = [{ resource: API, scope: 'payments:read' }, { scope: 'payments:read' }];
    for (const params of variants) {
      await assert.rejects(
        oidc.clientCredentialsGrant(rp, params),
        (err: oidc.ResponseBodyError) => err.error === 'invalid_scope',
      );
    }
  });

  test('a resource indicator that is not registered is refused with invalid_target', async () => {
    await assert.rejects(
      oidc.clientCredentialsGrant(await relyingParty(kluis.issuer, clientA), { resource: 'https://unknown.example/' }),
      (err: oidc.ResponseBodyError) => err.error === 'invalid_target',
    );
  });

  test('resource servers are read from the cache, and one added or removed while Kluis runs is used at once', async () => {
    const rp = await relyingParty(kluis.issuer, clientA);
    const lifetime = async (resource: string) => {
      const { access_token } = await oidc.clientCredentialsGrant(rp, { resource, scope: 'payments:read' });
      const { exp, iat } = decodeJwt(access_token);
      return exp! - iat!;
    };
    const invalidTarget = (err: oidc.ResponseBodyError) => err.error === 'invalid_target';
    // Read once, then served from memory: a change nobody is told of (its trigger off) is not seen.
    assert.ok((await lifetime(API)) <= 300);
    await t.db.transaction(async (tx) => {
      await tx.query('alter table resource_servers disable trigger resource_servers_changed');
      await tx.query('update resource_servers set access_token_ttl = 60 where identifier = $1', [API]);
      await tx.query('alter table resource_servers enable trigger resource_servers_changed');
    });
    assert.ok((await lifetime(API)) > 60, 'the resource server is read from the cache');
    await t.db.query('update resource_servers set access_token_ttl = 300 where identifier = $1', [API]);

    // Looked up before it exists ("no such resource server" is cached too), then added and removed.
    const OTHER = 'https://api.bank.example/cached';
    await assert.rejects(oidc.clientCredentialsGrant(rp, { resource: OTHER, scope: 'payments:read' }), invalidTarget);
    const server = {
      identifier: OTHER,
      scope: 'payments:read',
      accessTokenFormat: 'jwt',
      signingAlg: 'ES256',
    } as const;
    await addResourceServer(t.db, { ...server, accessTokenTtl: 120 });
    const unseen = 'the change did not reach the running server';
    await eventually(async () => (await lifetime(OTHER).catch(() => 0)) === 120, unseen);
    await removeResourceServer(t.db, OTHER);
    await eventually(
      () =>
        oidc.clientCredentialsGrant(rp, { resource: OTHER, scope: 'payments:read' }).then(
          () => false,
          (err) => invalidTarget(err),
        ),
      unseen,
    );
  });

  test('issued and revoked tokens are audited without the token value', async () => {
    const rp = await relyingParty(kluis.issuer, clientB);
    const { access_token } = await oidc.clientCredentialsGrant(rp, {});
    await oidc.tokenRevocation(rp, access_token);
    // Provider events are written after the answer.
    const audited = () =>
      t.db.query<{ type: string; details: unknown }>(
        `select type, details from audit_events where client_id = $1 order by id`,
        [clientB.client_id],
      );
    await eventually(
      async () => (await audited()).rows.some((row) => row.type === 'token.revoked'),
      'the revocation was not audited',
    );
    const { rows } = await audited();
    const types = rows.map((row) => row.type);
    assert.ok(types.includes('client.created'));
    assert.ok(types.includes('token.issued'));
    assert.ok(types.includes('token.revoked'));
    const { rows: all } = await t.db.query(`select * from audit_events`);
    assert.ok(!JSON.stringify(all).includes(access_token), 'no token value in the audit log');
    assert.ok(!JSON.stringify(all).includes(String(clientB.client_secret)), 'no client secret in the audit log');
  });
});

describe('authorization endpoint baseline', () => {
  let web: AdapterPayload;
  before(async () => {
    web = await registerClient(t.url, { redirect_uris: ['https://rp.example/cb'], client_name: 'Web' });
  });

  const authorize = (params: Record<string, string>) =>
    get(
      `/auth?${new URLSearchParams({ client_id: String(web.client_id), redirect_uri: 'https://rp.example/cb', scope: 'openid', state: 's1', ...params })}`,
      { redirect: 'manual' },
    );

  test('response types other than code are refused', async () => {
    for (const responseType of ['token', 'id_token token', 'code id_token']) {
      const res = await authorize({
        response_type: responseType,
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
      });
      const location = new URL(res.headers.get('location') ?? 'http://invalid/');
      const error = location.searchParams.get('error') ?? new URLSearchParams(location.hash.slice(1)).get('error');
      assert.equal(error, 'unsupported_response_type', responseType);
    }
  });

  test('an authorization request without a PKCE S256 challenge is refused with invalid_request and iss', async () => {
    const variants: Record<string, string>[] = [{}, { code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' }];
    for (const extra of variants) {
      const res = await authorize({ response_type: 'code', ...extra });
      assert.equal(res.status, 303);
      const location = new URL(res.headers.get('location')!);
      assert.equal(location.origin + location.pathname, 'https://rp.example/cb');
      assert.equal(location.searchParams.get('error'), 'invalid_request');
      assert.equal(location.searchParams.get('iss'), kluis.issuer);
    }
  });

  test('an unregistered redirect_uri gets an error page, never a redirect', async () => {
    const res = await authorize({
      response_type: 'code',
      redirect_uri: 'https://evil.example/cb',
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.match(await res.text(), /redirect_uri/);
  });

  test('the password grant is not supported', async () => {
    const res = await get('/token', {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${web.client_id}:${web.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=password&username=a&password=b',
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'unsupported_grant_type');
  });

  test('clients registered without an ID token algorithm get ES256', async () => {
    const stored = (
      await t.db.query<{ payload: AdapterPayload }>(
        `select payload from oidc_models where model = 'Client' and id = $1`,
        [web.client_id],
      )
    ).rows[0]!;
    assert.equal(stored.payload.id_token_signed_response_alg, 'ES256');
  });
});

describe('operations endpoints', () => {
  test('/healthz and /readyz answer 200 with a request id and security headers', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const res = await get(path);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    }
  });

  test('an incoming X-Request-Id is ignored unless a trusted proxy is configured', async () => {
    const res = await get('/healthz', { headers: { 'x-request-id': 'forged-id' } });
    assert.notEqual(res.headers.get('x-request-id'), 'forged-id');
  });

  test('a spoofed Host or X-Forwarded-Host does not change the issuer', async () => {
    const res = await get('/.well-known/openid-configuration', {
      headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
    });
    assert.equal(((await res.json()) as { issuer: string }).issuer, kluis.issuer);
  });
});

describe('provider events reach the audit log', () => {
  test('a server error and a grant revocation are recorded from provider events, without the error text', async () => {
    const provider = kluis.host.provider;
    const ctx = { oidc: { route: 'token', client: { clientId: 'audit-probe' } }, path: '/token' };
    provider.emit('server_error', ctx as never, new TypeError('secret detail that must not be stored'));
    provider.emit('grant.revoked', ctx as never, 'grant-audit-probe');
    const audited = () =>
      t.db.query<{ type: string; grant_id: string | null; details: Record<string, unknown> }>(
        `select type, grant_id, details from audit_events where client_id = 'audit-probe' order by id`,
      );
    await eventually(async () => (await audited()).rowCount === 2, 'both events were not audited');
    const { rows } = await audited();
    assert.deepEqual(
      rows.map((r) => r.type),
      ['server.error', 'grant.revoked'],
    );
    assert.deepEqual(rows[0]!.details, { route: 'token', error: 'TypeError' });
    assert.equal(rows[1]!.grant_id, 'grant-audit-probe');
  });
});

describe('userinfo', () => {
  test('a client credentials token (no end-user) is refused at userinfo with 401 invalid_token', async () => {
    const { access_token } = await oidc.clientCredentialsGrant(await relyingParty(kluis.issuer, clientA), {});
    const res = await get('/me', { headers: { authorization: `Bearer ${access_token}` } });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /invalid_token/);
  });
});

describe('interactions', () => {
  test("development interactions are off: a valid authorization request is sent to Kluis's own /interaction path", async () => {
    const web = await registerClient(t.url, { redirect_uris: ['https://rp.example/cb2'] });
    const res = await get(
      `/auth?${new URLSearchParams({ client_id: String(web.client_id), redirect_uri: 'https://rp.example/cb2', response_type: 'code', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`,
      { redirect: 'manual' },
    );
    assert.equal(res.status, 303);
    const location = res.headers.get('location') ?? '';
    assert.match(location, /^\/interaction\/[\w-]+$/);
    const page = await get(location);
    assert.doesNotMatch(await page.text(), /dev interactions|devInteractions/i);
  });
});

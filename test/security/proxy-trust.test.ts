import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { M2M_METADATA, registerClient } from '../support/clients.ts';
import { createTestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { startTestKluis, type TestKluis } from '../support/kluis.ts';
import { STRONG_SECRET } from '../support/secrets.ts';
import { tempDir } from '../support/tempdir.ts';
import { selfSignedCertificate } from '../support/tls.ts';

// Forwarded headers count only from the proxies in TRUSTED_PROXIES, judged by the connection's address. The whole
// 127/8 block is loopback on Linux, so the tests connect from 127.0.0.2 (the trusted "proxy") and from 127.0.0.1 (a
// peer that reached the port directly).
const PROXY = '127.0.0.2';
const STRANGER = '127.0.0.1';
const CERT_HEADER = 'X-SSL-Client-Cert';
const PROXY_ENV = { TRUSTED_PROXIES: PROXY, MTLS_CERTIFICATE_HEADER: CERT_HEADER };

let kluis: TestKluis;
let mtlsClient: AdapterPayload;
let certs: { dir: Awaited<ReturnType<typeof tempDir>>; pem: string };
let house: KluisFixture<'mtlsClient', never>;

before(async () => {
  const dir = await tempDir('kluis-proxy-trust');
  certs = { dir, pem: readFileSync(selfSignedCertificate(dir.path, '/CN=tpp', 'tpp').certFile, 'utf8') };
  const certificate = new X509Certificate(certs.pem);
  const jwk = {
    ...(certificate.publicKey.export({ format: 'jwk' }) as Record<string, unknown>),
    x5c: [certificate.raw.toString('base64')],
    kid: 'tls',
    use: 'sig',
  };
  house = await withKluis({
    clients: {
      mtlsClient: {
        ...M2M_METADATA,
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        jwks: { keys: [jwk] },
        tls_client_certificate_bound_access_tokens: true,
      },
    },
    env: { ...PROXY_ENV, RATE_LIMIT_AUTHORIZE: '3' },
  });
  ({ kluis } = house);
  mtlsClient = house.clients.mtlsClient;
});
after(async () => {
  await house?.stop();
  await certs?.dir.remove();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request whose connection leaves from `from`, as a proxy's (or a stranger's) would. */
function send(
  base: string,
  from: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: options.method ?? 'GET',
        headers: options.headers,
        localAddress: from,
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const clientCredentials = (from: string) =>
  send(kluis.url, from, '/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', [CERT_HEADER]: encodeURIComponent(certs.pem) },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: String(mtlsClient.client_id) }).toString(),
  });

describe('forwarded headers only from TRUSTED_PROXIES', () => {
  test("a peer outside TRUSTED_PROXIES sending an mTLS client's public certificate in the header is not that client", async () => {
    const forged = await clientCredentials(STRANGER);
    assert.equal(forged.status, 401, forged.body);
    assert.equal((JSON.parse(forged.body) as { error: string }).error, 'invalid_client');
    const proxied = await clientCredentials(PROXY);
    assert.equal(proxied.status, 200, `through the trusted proxy the certificate authenticates: ${proxied.body}`);
  });

  test('X-Forwarded-For rotated by a peer outside TRUSTED_PROXIES does not dodge the per-address limit', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i += 1)
      statuses.push(
        (await send(kluis.url, STRANGER, '/auth', { headers: { 'x-forwarded-for': `203.0.113.${i}` } })).status,
      );
    assert.deepEqual(statuses.slice(3), [429, 429], `counted against ${STRANGER} itself: ${statuses.join(',')}`);
  });

  test('through a trusted proxy the address it forwarded counts, one limit per client address', async () => {
    const rotated: number[] = [];
    for (let i = 1; i <= 5; i += 1)
      rotated.push(
        (await send(kluis.url, PROXY, '/auth', { headers: { 'x-forwarded-for': `198.51.100.${i}` } })).status,
      );
    assert.ok(!rotated.includes(429), `five client addresses, one request each: ${rotated.join(',')}`);
    const same: number[] = [];
    for (let i = 1; i <= 4; i += 1)
      same.push((await send(kluis.url, PROXY, '/auth', { headers: { 'x-forwarded-for': '198.51.100.77' } })).status);
    assert.equal(same[3], 429, `one client address over its limit: ${same.join(',')}`);
  });

  test('an incoming X-Request-Id is kept from the trusted proxy only', async () => {
    const headers = { 'x-request-id': 'proxy-assigned-id-1' };
    assert.equal(
      (await send(kluis.url, PROXY, '/healthz', { headers })).headers['x-request-id'],
      'proxy-assigned-id-1',
    );
    assert.notEqual(
      (await send(kluis.url, STRANGER, '/healthz', { headers })).headers['x-request-id'],
      'proxy-assigned-id-1',
    );
  });

  test('with an https issuer, oidc-provider builds https URLs and sets Secure cookies behind the trusted proxy', async () => {
    const issuer = 'https://login.bank.example';
    const prod = await createTestDatabase();
    const web = await registerClient(
      prod.url,
      { redirect_uris: ['https://app.example/cb'], scope: 'openid' },
      { ISSUER: issuer, KLUIS_SECRET: STRONG_SECRET, ...PROXY_ENV },
    );
    const server = await startTestKluis(prod.url, { ISSUER: issuer, KLUIS_SECRET: STRONG_SECRET, ...PROXY_ENV });
    try {
      const discovery = JSON.parse(
        (
          await send(server.url, PROXY, '/.well-known/openid-configuration', {
            headers: { 'x-forwarded-proto': 'https' },
          })
        ).body,
      ) as Record<string, string>;
      assert.equal(discovery.issuer, issuer);
      assert.equal(discovery.authorization_endpoint, `${issuer}/auth`);
      const query = `/auth?client_id=${String(web.client_id)}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://app.example/cb')}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`;
      const authorize = await send(server.url, PROXY, query, {
        headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.200' },
      });
      assert.equal(authorize.status, 303, authorize.body);
      assert.match(String(authorize.headers.location), /^\/interaction\//);
      const cookies = ([] as string[]).concat(authorize.headers['set-cookie'] ?? []);
      assert.ok(cookies.length > 0 && cookies.every((cookie) => /; secure/i.test(cookie)), cookies.join('\n'));
      // The same request straight to the port is plain http to Kluis: a clear 403 (never a 500), no session cookie.
      const direct = await send(server.url, STRANGER, query, { headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(direct.status, 403, direct.body);
      assert.match(direct.body, /"error":"invalid_request"/);
      assert.equal(direct.headers['set-cookie'], undefined);
      // So is a request through the proxy that did not say it came over https; the probes answer anyone.
      assert.equal((await send(server.url, PROXY, query)).status, 403);
      assert.equal((await send(server.url, STRANGER, '/healthz')).status, 200);
      assert.equal((await send(server.url, STRANGER, '/readyz')).status, 200);
      const { rows } = await prod.db.query(`select count(*)::int as n from audit_events where type = 'server.error'`);
      assert.equal(rows[0]?.n, 0, 'no server error recorded');
    } finally {
      await server.stop();
      await prod.drop();
    }
  });
});

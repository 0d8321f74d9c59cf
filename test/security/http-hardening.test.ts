import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Koa from 'koa';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { Browser, formAction } from '../support/browser.ts';
import { M2M_METADATA, relyingParty } from '../support/clients.ts';
import type { TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { startTestKluis, type TestKluis } from '../support/kluis.ts';
import { loadConfig } from '../../src/config/env.ts';
import { Pages } from '../../src/web/render.ts';
import { errorBoundary } from '../../src/http/errors.ts';
import { formBody, formField, formValues } from '../../src/web/forms.ts';
import { createLogger } from '../../src/log/logger.ts';
import { REDIRECT, RelyingParty } from '../support/rp.ts';

// Headers, input limits, spoofed hosts and metrics, as seen from outside.
let t: TestDatabase;
let kluis: TestKluis;
let m2m: AdapterPayload;
let web: AdapterPayload;
let house: KluisFixture<'m2m' | 'web', 'mona'>;
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

before(async () => {
  house = await withKluis({
    clients: { m2m: M2M_METADATA, web: { redirect_uris: [REDIRECT], scope: 'openid' } },
    people: { mona: { password: 'metrics passphrase', totp: true } },
    env: { METRICS_PORT: '0', LOCKOUT_THRESHOLD: '3' },
  });
  ({ database: t, kluis } = house);
  ({ m2m, web } = house.clients);
});
after(() => house?.stop());

const authorizeQuery = (extra = '') =>
  `/auth?client_id=${String(web.client_id)}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}&code_challenge=${CHALLENGE}&code_challenge_method=S256${extra}`;

/** A raw HTTP request, so Host can be anything. */
function raw(
  base: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'GET', headers },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('headers', () => {
  test("every response, the provider's and Kluis's own, carries the security headers", async () => {
    const responses = await Promise.all([
      fetch(new URL('/.well-known/openid-configuration', kluis.url)),
      fetch(new URL('/jwks', kluis.url)),
      fetch(new URL('/token', kluis.url), { method: 'POST' }),
      fetch(new URL('/me', kluis.url)),
      fetch(new URL('/reg', kluis.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }),
      fetch(new URL(authorizeQuery(), kluis.url), { redirect: 'manual' }),
      fetch(new URL('/auth?client_id=nope', kluis.url)),
      fetch(new URL('/interaction/unknown', kluis.url)),
      fetch(new URL('/account', kluis.url), { redirect: 'manual' }),
      fetch(new URL('/healthz', kluis.url)),
      fetch(new URL('/no-such-page', kluis.url)),
    ]);
    for (const res of responses) {
      const where = `${res.url} (${res.status})`;
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', where);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', where);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', where);
      assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, where);
    }
  });

  test('token responses are not cached: Cache-Control no-store and Pragma no-cache', async () => {
    const res = await fetch(new URL('/token', kluis.url), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${String(m2m.client_id)}:${String(m2m.client_secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('pragma'), 'no-cache');
  });

  test('the authorization endpoint never answers cross-origin requests with CORS headers', async () => {
    const get = await fetch(new URL(authorizeQuery(), kluis.url), {
      redirect: 'manual',
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(get.headers.get('access-control-allow-origin'), null);
    const preflight = await fetch(new URL('/auth', kluis.url), {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  });
});

describe('input', () => {
  test('oversized bodies are refused with 413 or 400, never a 5xx', async () => {
    const huge = `grant_type=client_credentials&pad=${'a'.repeat(200_000)}`;
    const token = await fetch(new URL('/token', kluis.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: huge,
    });
    assert.equal(token.status, 413);
    assert.equal(((await token.json()) as { error: string }).error, 'invalid_request');
    const reg = await fetch(new URL('/reg', kluis.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'x'.repeat(200_000) }),
    });
    assert.ok(reg.status === 400 || reg.status === 401 || reg.status === 413, String(reg.status));

    const browser = new Browser(kluis.issuer);
    const { res } = await browser.follow(
      (await (await RelyingParty.create(kluis.issuer, web)).request({ scope: 'openid' })).url,
    );
    const page = await res.text();
    const form = await browser.request(formAction(page, 'login'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=${'u'.repeat(100_000)}&password=x`,
    });
    assert.equal(form.status, 413);
  });

  test('duplicate OAuth parameters are rejected', async () => {
    const token = await fetch(new URL('/token', kluis.url), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${String(m2m.client_id)}:${String(m2m.client_secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&grant_type=client_credentials',
    });
    assert.equal(token.status, 400);
    assert.equal(((await token.json()) as { error: string }).error, 'invalid_request');
    const auth = await fetch(new URL(authorizeQuery(`&client_id=${String(web.client_id)}`), kluis.url), {
      redirect: 'manual',
    });
    assert.equal(auth.status, 400);
  });
});

describe('spoofed Host and X-Forwarded-*', () => {
  for (const trustProxy of ['false', 'true']) {
    test(`with TRUST_PROXY=${trustProxy} neither the issuer nor any redirect follows a spoofed Host or X-Forwarded-Host`, async () => {
      const server = trustProxy === 'true' ? await startTestKluis(t.url, { TRUST_PROXY: 'true' }) : kluis;
      try {
        const spoof = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
        const discovery = await raw(server.url, '/.well-known/openid-configuration', spoof);
        const metadata = JSON.parse(discovery.body) as Record<string, unknown>;
        assert.equal(metadata.issuer, server.issuer);
        assert.ok(!discovery.body.includes('evil.example'));
        const authorize = await raw(server.url, authorizeQuery(), spoof);
        assert.equal(authorize.status, 303);
        assert.ok(!String(authorize.headers.location).includes('evil.example'), String(authorize.headers.location));
        const account = await raw(server.url, '/account', spoof);
        assert.ok(!String(account.headers.location).includes('evil.example'));
      } finally {
        if (server !== kluis) await server.stop();
      }
    });
  }
});

describe('metrics', () => {
  test('/metrics is served on its own port only, with requests by route, tokens, sign-ins, lockouts and the pool', async () => {
    const { access_token } = await oidc.clientCredentialsGrant(await relyingParty(kluis.issuer, m2m), {});
    assert.ok(access_token);
    await fetch(new URL('/jwks', kluis.url));
    await fetch(new URL('/wp-admin/../etc/passwd?x=1', kluis.url));
    const rp = await RelyingParty.create(kluis.issuer, web);
    for (let i = 0; i < 3; i += 1) {
      const browser = new Browser(kluis.issuer);
      const { res } = await browser.follow((await rp.request({ scope: 'openid' })).url);
      const page = await res.text();
      const { res: mfa } = await browser.submit(formAction(page, 'login'), page, {
        username: 'mona',
        password: 'wrong',
      });
      const mfaPage = await mfa.text();
      await browser.submit(formAction(mfaPage, 'mfa'), mfaPage, { code: '000000' });
    }

    assert.equal((await fetch(new URL('/metrics', kluis.url))).status, 404, 'not on the public port');
    const res = await fetch(kluis.metricsUrl!);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.match(text, /kluis_http_requests_total\{method="GET",route="\/jwks",status="200"\} [1-9]/);
    assert.match(
      text,
      /kluis_http_requests_total\{method="POST",route="\/interaction\/:uid\/login",status="303"\} [1-9]/,
    );
    assert.match(
      text,
      /kluis_http_request_duration_seconds_bucket\{le="0.1",method="POST",route="\/token",status="200"\}/,
    );
    assert.match(text, /route="other"/);
    assert.doesNotMatch(text, /wp-admin/);
    assert.match(text, /kluis_tokens_issued_total\{grant_type="client_credentials",kind="ClientCredentials"\} [1-9]/);
    assert.match(text, /kluis_logins_total\{outcome="failed"\} 3/);
    assert.match(text, /kluis_account_lockouts_total 1/);
    assert.match(text, /kluis_db_pool_connections\{state="total"\} \d+/);
    assert.match(text, /kluis_process_cpu_user_seconds_total/);
  });

  test('every catalogued route has its own label: the authorization server metadata and the signed-out page too', async () => {
    assert.equal((await fetch(new URL('/.well-known/oauth-authorization-server', kluis.url))).status, 200);
    await fetch(new URL('/session/end/success', kluis.url));
    await fetch(new URL('/interaction/SomeUid/LOGIN/', kluis.url));
    const text = await (await fetch(kluis.metricsUrl!)).text();
    assert.match(
      text,
      /kluis_http_requests_total\{method="GET",route="\/\.well-known\/oauth-authorization-server",status="200"\} 1/,
    );
    assert.match(text, /kluis_http_requests_total\{method="GET",route="\/session\/end\/success",status="\d+"\} 1/);
    assert.match(text, /route="\/interaction\/:uid\/login"/, 'every spelling of a route shares its label');
    assert.doesNotMatch(text, /SomeUid/i);
  });
});

describe('the error page', () => {
  test('a 500 on a browser page is the HTML error page; an API, or a page asked for JSON only, gets JSON', async () => {
    // Kluis's error boundary in front of a route with a bug: no real route of Kluis fails this way on purpose.
    const app = new Koa();
    app.use(async (ctx, next) => {
      ctx.state.requestId = 'req-500';
      ctx.state.pages = new Pages(loadConfig({}).brand, { showDetail: false });
      await next();
    });
    app.use(errorBoundary(createLogger('silent')));
    app.use(() => {
      throw new Error('a bug');
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const page = await fetch(`${base}/account/security`, { headers: { accept: 'text/html,*/*;q=0.8' } });
      assert.equal(page.status, 500);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      const html = await page.text();
      assert.match(html, /<h1>Something went wrong<\/h1>/);
      assert.match(html, /req-500/);
      assert.doesNotMatch(html, /a bug/, 'the message of an unexpected error is never shown');
      const interaction = await fetch(`${base}/interaction/some-uid/login`, { method: 'POST' });
      assert.match(interaction.headers.get('content-type') ?? '', /^text\/html/, 'fetch sends */*: HTML');
      const asJson = await fetch(`${base}/account/security`, { headers: { accept: 'application/json' } });
      assert.equal(asJson.status, 500);
      const body = { error: 'server_error', error_description: 'internal error', request_id: 'req-500' };
      assert.deepEqual(await asJson.json(), body);
      const api = await fetch(`${base}/token`, { method: 'POST', headers: { accept: 'text/html' } });
      assert.equal(api.status, 500);
      assert.equal(((await api.json()) as { error: string }).error, 'server_error');
    } finally {
      server.close();
    }
  });
});

describe('form fields', () => {
  test('one rule on every page: a value over its limit or with NUL is refused whole, never cut', async () => {
    const app = new Koa();
    app.use(formBody);
    app.use((ctx) => {
      ctx.body = { code: formField(ctx, 'code', 6), scopes: formValues(ctx, 'scope', 8) };
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const post = async (form: string) => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const headers = { 'content-type': 'application/x-www-form-urlencoded' };
      return (await fetch(url, { method: 'POST', headers, body: form })).json();
    };
    try {
      const accepted = { code: '123456', scopes: ['openid', 'profile'] };
      assert.deepEqual(await post('code=123456&scope=openid&scope=profile'), accepted);
      assert.deepEqual(await post('code=1234567'), { code: '', scopes: [] }, 'over the limit: refused, not cut');
      assert.deepEqual(await post('code=123%0045'), { code: '', scopes: [] }, 'NUL: refused');
      assert.deepEqual(await post('code=1&code=2&scope=openid&scope=a%00b&scope=much-too-long'), {
        code: '',
        scopes: ['openid'],
      });
    } finally {
      server.close();
    }
  });
});

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { Browser, formAction } from '../support/browser.ts';
import { M2M_METADATA, registerClient } from '../support/clients.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { startTestKluis, type TestKluis } from '../support/kluis.ts';
import { REDIRECT, RelyingParty } from '../support/rp.ts';

// Each limit trips with 429 and Retry-After, is shared by every process on the database, and is audited once.
let t: TestDatabase;
let one: TestKluis;
let two: TestKluis;
let client: AdapterPayload;
let web: AdapterPayload;
const LIMITS = {
  RATE_LIMIT_WINDOW: '60',
  RATE_LIMIT_LOGIN: '4',
  RATE_LIMIT_TOKEN: '5',
  RATE_LIMIT_AUTHORIZE: '6',
  RATE_LIMIT_REGISTER: '3',
  METRICS_PORT: '0',
};

let house: KluisFixture<'client' | 'web', never>;

before(async () => {
  house = await withKluis({
    clients: { client: M2M_METADATA, web: { redirect_uris: [REDIRECT], scope: 'openid' } },
    env: LIMITS,
  });
  ({ database: t, kluis: one } = house);
  ({ client, web } = house.clients);
  // Two processes' worth of Kluis on one database: the counts are shared.
  two = await startTestKluis(t.url, LIMITS);
});
after(async () => {
  await two?.stop();
  await house?.stop();
});

const basic = (id: unknown, secret: unknown) =>
  `Basic ${Buffer.from(`${String(id)}:${String(secret)}`).toString('base64')}`;
const token = (kluis: TestKluis, authorization: string) =>
  fetch(new URL('/token', kluis.url), {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });

/** POST /token over a connection from `from` (any 127/8 address is this host), so tests can be several senders. */
function tokenFrom(
  from: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const url = new URL('/token', one.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress: from,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end(new URLSearchParams(form).toString());
  });
}

/** The last audit event before the running test: its own events come after it. */
let since: string;

async function audited(limit: string): Promise<number> {
  const { rows } = await t.db.query<{ n: number }>(
    `select count(*)::int as n from audit_events
     where type = 'rate_limit.exceeded' and details->>'limit' = $1 and seq > $2`,
    [limit, since],
  );
  return rows[0]!.n;
}

describe('rate limits under every spelling of a path', () => {
  // oidc-provider's router and @koa/router match paths case-insensitively and accept a trailing slash, and serve GET
  // routes for HEAD: each of these reaches the same handler as the canonical path, or no handler at all (404).
  const spellings = (path: string) => [
    path,
    `${path}/`,
    path.toUpperCase(),
    `${path}//`,
    `${path.toUpperCase()}/`,
    `${path}%2F`,
  ];

  test('each limit holds for /x/, /X, /x// and %2F forms of its paths: at most the limit is answered in all', async () => {
    const own = await createTestDatabase();
    const web = await registerClient(own.url, { redirect_uris: [REDIRECT], scope: 'openid' });
    const three = {
      RATE_LIMIT_LOGIN: '3',
      RATE_LIMIT_TOKEN: '3',
      RATE_LIMIT_AUTHORIZE: '3',
      RATE_LIMIT_REGISTER: '3',
      LOGIN_IP_LIMIT: '1000',
    };
    const kluis = await startTestKluis(own.url, three);
    try {
      const authorize = `client_id=${String(web.client_id)}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`;
      const browser = new Browser(kluis.issuer);
      const page = await (await browser.follow(`/auth?${authorize}`)).res.text();
      const uid = formAction(page, 'login').split('/')[2]!;
      const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const oauthForm = (path: string) => () =>
        fetch(new URL(path, kluis.url), {
          method: 'POST',
          headers: form,
          body: 'grant_type=client_credentials&client_id=x&client_secret=y',
        });
      const buckets: Record<string, (() => Promise<Response>)[]> = {
        authorize: [
          ...spellings('/auth').map(
            (path) => () => fetch(new URL(`${path}?${authorize}`, kluis.url), { redirect: 'manual' }),
          ),
          () => fetch(new URL(`/auth?${authorize}`, kluis.url), { method: 'HEAD', redirect: 'manual' }),
        ],
        logout: [
          ...spellings('/session/end').map((path) => () => fetch(new URL(path, kluis.url), { redirect: 'manual' })),
          () =>
            fetch(new URL('/SESSION/END/CONFIRM/', kluis.url), {
              method: 'POST',
              headers: form,
              body: 'xsrf=x',
              redirect: 'manual',
            }),
          () => fetch(new URL('/session/end', kluis.url), { method: 'HEAD', redirect: 'manual' }),
        ],
        token: spellings('/token').map(oauthForm),
        par: spellings('/request').map(oauthForm),
        introspection: spellings('/token/introspection').map(oauthForm),
        revocation: spellings('/token/revocation').map(oauthForm),
        register: spellings('/reg').map(
          (path) => () =>
            fetch(new URL(path, kluis.url), {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: '{}',
            }),
        ),
        // RFC 7592 management: an update makes Kluis fetch a sector_identifier_uri, so it is counted too.
        management: [...spellings('/reg/some-client'), '/REG/some-client'].flatMap((path) =>
          ['GET', 'PUT', 'DELETE'].map(
            (method) => () =>
              fetch(new URL(path, kluis.url), {
                method,
                headers: { 'content-type': 'application/json', authorization: 'Bearer nope' },
                ...(method === 'PUT' ? { body: '{}' } : {}),
              }),
          ),
        ),
        login: [
          ...[
            `/interaction/${uid}/login`,
            `/interaction/${uid}/login/`,
            `/INTERACTION/${uid}/LOGIN`,
            `/interaction/${uid}/login//`,
            `/Interaction/${uid}/Login/`,
            `/interaction/${uid}/login%2F`,
            `/interaction/${uid}%2Flogin`,
          ].map(
            (path) => () =>
              browser.request(path, {
                method: 'POST',
                headers: form,
                body: new URLSearchParams({ csrf, username: 'nobody', password: 'wrong' }),
              }),
          ),
          () =>
            browser.request(`/INTERACTION/${uid}/MFA/`, {
              method: 'POST',
              headers: form,
              body: `csrf=${csrf}&code=000000`,
            }),
        ],
        account: ['/account/security/totp', '/account/delete']
          .flatMap(spellings)
          .map(
            (path) => () =>
              fetch(new URL(path, kluis.url), { method: 'POST', headers: form, body: 'csrf=x', redirect: 'manual' }),
          ),
      };
      for (const [bucket, requests] of Object.entries(buckets)) {
        await own.db.query('delete from rate_limits');
        const statuses: number[] = [];
        for (const send of [...requests, ...requests]) {
          const res = await send();
          await res.arrayBuffer();
          statuses.push(res.status);
        }
        const answered = statuses.filter((status) => status !== 429 && status !== 404);
        assert.equal(answered.length, 3, `${bucket}: ${statuses.join()}`);
        assert.notEqual(statuses[0], 429, `${bucket}: the canonical path is answered first`);
      }
    } finally {
      await kluis.stop();
      await own.drop();
    }
  });
});

describe('rate limits', () => {
  // Each test starts with fresh windows: the counters (and refusals) of the tests before it are not its own.
  beforeEach(async () => {
    await t.db.query('delete from rate_limits');
    since = (await t.db.query<{ seq: string }>('select coalesce(max(seq), 0) as seq from audit_events')).rows[0]!.seq;
  });

  test('per client on /token: the limit is shared by both processes; 429 with Retry-After and an OAuth error body', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1)
      statuses.push((await token(i % 2 ? two : one, basic(client.client_id, client.client_secret))).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    const refused = await token(two, basic(client.client_id, client.client_secret));
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.deepEqual(await refused.json(), {
      error: 'temporarily_unavailable',
      error_description: 'too many requests; retry after the time in Retry-After',
    });
    assert.equal((await token(one, basic(client.client_id, client.client_secret))).status, 429);
    assert.equal(await audited('token'), 1, 'one audit event per window, not one per refusal');
    const metrics = await (await fetch(one.metricsUrl!)).text();
    assert.match(metrics, /kluis_rate_limited_total\{limit="token"\} [1-9]/);
  });

  test("a stranger using a client's id with a wrong secret does not use up that client's quota", async () => {
    const victim = await registerClient(t.url, M2M_METADATA);
    for (let i = 0; i < 8; i += 1) await token(one, basic(victim.client_id, 'wrong secret'));
    assert.equal(
      (await token(one, basic(victim.client_id, victim.client_secret))).status,
      429,
      'this address is over its limit',
    );
    await t.db.query(`delete from rate_limits where key like 'token-ip:%'`);
    assert.equal(
      (await token(one, basic(victim.client_id, victim.client_secret))).status,
      200,
      "the victim's own quota is intact",
    );
  });

  test("a stranger sending a public client's id with bogus codes uses up only their own share of its quota", async () => {
    const app = await registerClient(t.url, {
      redirect_uris: [REDIRECT],
      scope: 'openid',
      token_endpoint_auth_method: 'none',
    });
    const bogus = (from: string) =>
      tokenFrom(from, {
        grant_type: 'authorization_code',
        client_id: String(app.client_id),
        code: `bogus-${from}`,
        redirect_uri: REDIRECT,
        code_verifier: 'v'.repeat(43),
      });
    const stranger: number[] = [];
    for (let i = 0; i < 6; i += 1) stranger.push((await bogus('127.0.0.3')).status);
    assert.deepEqual(stranger, [400, 400, 400, 400, 400, 429], 'the stranger meets the limit at their own address');
    const person = await bogus('127.0.0.4');
    assert.equal(person.status, 400, `the app's other users are not refused: ${person.body}`);
    assert.equal((JSON.parse(person.body) as { error: string }).error, 'invalid_grant');
  });

  test("a stranger's malformed or wrong credentials for a confidential client count against the stranger, not the client", async () => {
    const victim = await registerClient(t.url, M2M_METADATA);
    // Two mechanisms at once is refused (400) before the secret is even looked at.
    const forged = { authorization: basic(victim.client_id, 'wrong secret') };
    for (let i = 0; i < 8; i += 1)
      await tokenFrom('127.0.0.5', { grant_type: 'client_credentials', client_secret: 'x' }, forged);
    assert.equal((await tokenFrom('127.0.0.5', { grant_type: 'client_credentials' }, forged)).status, 429);
    const own = await tokenFrom(
      '127.0.0.6',
      { grant_type: 'client_credentials' },
      { authorization: basic(victim.client_id, victim.client_secret) },
    );
    assert.equal(own.status, 200, `the victim's own quota is intact: ${own.body}`);
  });

  test('a client request is counted before its answer leaves, so a client sending one request after another cannot overtake its count', async () => {
    const sequential = await registerClient(t.url, M2M_METADATA);
    const authorization = basic(sequential.client_id, sequential.client_secret);
    assert.equal((await token(one, authorization)).status, 200);
    const key = `token-client:${String(sequential.client_id)}`;
    // Hold the client's counter row: the next hit cannot be counted until this transaction ends.
    const { pending } = await t.db.transaction(async (tx) => {
      await tx.query('select hits from rate_limits where key = $1 for update', [key]);
      const request = token(one, authorization);
      const early = await Promise.race([
        request.then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 500)),
      ]);
      assert.equal(early, false, 'the answer waited for the count');
      return { pending: request }; // wrapped: the transaction must end (and release the row) before the answer can come
    });
    assert.equal((await pending).status, 200);
    const { rows } = await t.db.query<{ hits: number }>('select hits from rate_limits where key = $1', [key]);
    assert.equal(rows[0]!.hits, 2);
  });

  test('per address on the sign-in forms: the fifth POST in the window is refused with a page', async () => {
    const rp = await RelyingParty.create(one.issuer, web);
    const browser = new Browser(one.issuer);
    const { res } = await browser.follow((await rp.request({ scope: 'openid' })).url);
    const page = await res.text();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1)
      statuses.push(
        (await browser.submit(formAction(page, 'login'), page, { username: 'nobody', password: 'x' })).res.status,
      );
    assert.deepEqual(
      statuses.slice(0, 4).map((s) => s < 400),
      [true, true, true, true],
    );
    assert.equal(statuses[4], 429);
    const refused = await browser.request(formAction(page, 'login'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=a&password=b',
    });
    assert.equal(refused.status, 429);
    assert.ok(refused.headers.get('retry-after'));
    assert.match(await refused.text(), /Too many requests/);
    assert.equal(await audited('login'), 1);
  });

  test('per address on the authorization endpoint', async () => {
    const url = `/auth?client_id=${String(web.client_id)}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`;
    const statuses: number[] = [];
    for (let i = 0; i < 7; i += 1)
      statuses.push((await fetch(new URL(url, (i % 2 ? two : one).url), { redirect: 'manual' })).status);
    assert.ok(
      statuses.slice(0, 6).every((s) => s === 303),
      statuses.join(),
    );
    assert.equal(statuses[6], 429);
    assert.equal(await audited('authorize'), 1);
  });

  test('a stranger naming a new made-up client_id each time gets no fresh quota, and adds no counter rows', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 30; i += 1)
      statuses.push(
        (await tokenFrom('127.0.0.7', { grant_type: 'client_credentials', client_id: `fake-${i}` })).status,
      );
    assert.deepEqual(statuses.slice(5), Array(25).fill(429), `the address meets its limit after 5: ${statuses.join()}`);
    assert.ok(
      statuses.slice(0, 5).every((status) => status !== 429),
      statuses.join(),
    );
    // Long made-up ids, with a secret and without, count under the address too; no key grows with what was sent.
    for (const form of [{ client_id: 'x'.repeat(5000) }, { client_id: 'y'.repeat(5000), client_secret: 's' }] as Record<
      string,
      string
    >[]) {
      assert.equal((await tokenFrom('127.0.0.8', { grant_type: 'client_credentials', ...form })).status, 401);
    }
    const { rows } = await t.db.query<{ key: string }>(
      `select key from rate_limits where key like '%127.0.0.7%' or key like '%127.0.0.8%' or key like '%fake-%'`,
    );
    assert.deepEqual(rows.map((row) => row.key).sort(), ['token-ip:127.0.0.7', 'token-ip:127.0.0.8']);
  });

  test('per address on dynamic registration', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const res = await fetch(new URL('/reg', one.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      statuses.push(res.status);
      if (res.status === 429) assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');
    }
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    assert.equal(await audited('register'), 1);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { Browser } from '../support/browser.ts';
import { M2M_METADATA } from '../support/clients.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import type { TestDatabase } from '../support/database.ts';
import type { TestKluis } from '../support/kluis.ts';
import { REDIRECT, RelyingParty } from '../support/rp.ts';

// Hostile input at every endpoint and form: nothing may answer 5xx, leak a stack trace or inject a header.
let house: KluisFixture<'m2m' | 'web', never>;
let t: TestDatabase;
let kluis: TestKluis;
let m2m: AdapterPayload;
let web: AdapterPayload;

const bigJwt = `${Buffer.from('{"alg":"ES256","kid":"x"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'x', pad: 'p'.repeat(60_000) })).toString('base64url')}.${'s'.repeat(86)}`;

/** Values that have broken servers before. */
const HOSTILE: [string, string][] = [
  ['sql', "' OR '1'='1'; drop table accounts; --"],
  ['nul', 'a\u0000b'],
  ['crlf', 'x\r\nSet-Cookie: injected=1\r\nX-Injected: 1'],
  ['long', 'L'.repeat(20_000)],
  ['unicode', '\u202e\ud83d\ude00\ufeff%00'],
  ['lone surrogate', '\ud800'],
  ['jwt', bigJwt],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, meant literally
  ['template', '{{7*7}}${7*7}<script>alert(1)</script>'],
  ['path', '../../../../etc/passwd'],
];

/** Raw bodies: bad UTF-8, duplicate parameters, huge, and broken encodings. */
const RAW_FORMS: [string, Buffer][] = [
  [
    'bad utf-8',
    Buffer.concat([Buffer.from('grant_type=client_credentials&scope='), Buffer.from([0xff, 0xfe, 0xc3, 0x28])]),
  ],
  ['bad percent-encoding', Buffer.from('grant_type=%E0%A4%A&code=%%%')],
  [
    'duplicates',
    Buffer.from('grant_type=authorization_code&grant_type=client_credentials&code=a&code=b&client_id=x&client_id=y'),
  ],
  ['huge', Buffer.from(`grant_type=client_credentials&x=${'x'.repeat(300_000)}`)],
  [
    'array syntax',
    Buffer.from('grant_type[]=client_credentials&scope[a]=b&__proto__[polluted]=1&constructor[prototype][x]=1'),
  ],
];

const JSON_BODIES = [
  '{',
  'null',
  '42',
  '[]',
  '"string"',
  '{"redirect_uris":"x"}',
  `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`,
  '{"__proto__":{"admin":true}}',
  `{"client_name":"${'n'.repeat(70_000)}"}`,
];

before(async () => {
  house = await withKluis({ clients: { m2m: M2M_METADATA, web: { redirect_uris: [REDIRECT], scope: 'openid' } } });
  ({ database: t, kluis } = house);
  ({ m2m, web } = house.clients);
});
after(() => house?.stop());

/** A browser of its own at the sign-in page of a fresh interaction. */
async function atSignIn(): Promise<{ browser: Browser; uid: string }> {
  const browser = new Browser(kluis.issuer);
  const request = await (await RelyingParty.create(kluis.issuer, web)).request({ scope: 'openid' });
  const { res } = await browser.follow(request.url);
  return { browser, uid: /\/interaction\/([\w-]+)\/login/.exec(await res.text())![1]! };
}

/** Checks each answer of one test, and afterwards that the person store is intact and every request was answered. */
function fuzzing() {
  const seen: { where: string; status: number }[] = [];
  return {
    async check(where: string, res: Response) {
      const body = await res.text();
      seen.push({ where, status: res.status });
      assert.ok(res.status < 500, `${where}: ${res.status} ${body.slice(0, 300)}`);
      assert.doesNotMatch(body, /\n\s+at [\w.<>]+ \(|node:internal|file:\/\/\//, `${where}: stack trace in the body`);
      assert.equal(res.headers.get('x-injected'), null, `${where}: header injection`);
      const injected = res.headers.getSetCookie().some((cookie) => cookie.startsWith('injected='));
      assert.ok(!injected, `${where}: cookie injection`);
    },
    async intact(minimum: number) {
      const { rows } = await t.db.query(`select to_regclass('accounts')::text as t`);
      assert.equal((rows[0] as { t: string }).t, 'accounts', 'no table was dropped');
      assert.ok(seen.length >= minimum, `${seen.length} hostile requests`);
      const byClass = seen.reduce<Record<string, number>>((acc, { status }) => {
        const answer = `${String(status).slice(0, 1)}xx`;
        acc[answer] = (acc[answer] ?? 0) + 1;
        return acc;
      }, {});
      console.log(`# fuzz: ${seen.length} requests, ${JSON.stringify(byClass)}`);
    },
  };
}

const basic = `Basic ${Buffer.from('x:y').toString('base64')}`;
/** encodeURIComponent refuses lone surrogates; a browser would send U+FFFD. */
const enc = (value: string) => encodeURIComponent(Buffer.from(value).toString());

describe('fuzz', () => {
  test('the authorization endpoint, with each hostile value in each parameter, GET and POST', async () => {
    const { check, intact } = fuzzing();
    const browser = new Browser(kluis.issuer);
    const base = {
      client_id: String(web.client_id),
      response_type: 'code',
      scope: 'openid',
      redirect_uri: REDIRECT,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      state: 's',
      nonce: 'n',
    };
    for (const param of [
      ...Object.keys(base),
      'request',
      'request_uri',
      'claims',
      'max_age',
      'acr_values',
      'prompt',
      'login_hint',
      'id_token_hint',
      'ui_locales',
      'resource',
    ]) {
      for (const [name, value] of HOSTILE) {
        const query = new URLSearchParams({ ...base, [param]: value });
        await check(`GET /auth ${param}=${name}`, await browser.request(`/auth?${query}`));
      }
    }
    for (const [name, value] of HOSTILE) {
      await check(
        `POST /auth ${name}`,
        await browser.request('/auth', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ ...base, state: value }),
        }),
      );
    }
    await intact(140);
  });

  test('the client endpoints: token, introspection, revocation, PAR, with hostile values, raw bodies and credentials', async () => {
    const { check, intact } = fuzzing();
    const real = `Basic ${Buffer.from(`${String(m2m.client_id)}:${String(m2m.client_secret)}`).toString('base64')}`;
    for (const path of ['/token', '/token/introspection', '/token/revocation', '/request']) {
      for (const [name, value] of HOSTILE) {
        for (const authorization of [real, basic, `Basic ${value.replace(/[^\x20-\x7e]/g, '?')}`, 'Bearer x']) {
          const body = new URLSearchParams({
            grant_type: value,
            token: value,
            client_id: value,
            client_assertion: value,
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            scope: value,
            code: value,
            refresh_token: value,
            code_verifier: value,
          });
          await check(
            `POST ${path} ${name}`,
            await fetch(new URL(path, kluis.url), {
              method: 'POST',
              headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
              body,
            }),
          );
        }
      }
      for (const [name, body] of RAW_FORMS) {
        await check(
          `POST ${path} raw ${name}`,
          await fetch(new URL(path, kluis.url), {
            method: 'POST',
            headers: { authorization: real, 'content-type': 'application/x-www-form-urlencoded' },
            body,
          }),
        );
      }
      for (const contentType of [
        'application/json',
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded; charset=utf-7',
      ]) {
        await check(
          `POST ${path} as ${contentType}`,
          await fetch(new URL(path, kluis.url), {
            method: 'POST',
            headers: { authorization: real, 'content-type': contentType },
            body: '{"grant_type":"client_credentials"}',
          }),
        );
      }
    }
    await intact(180);
  });

  test('registration, registration management and userinfo with hostile JSON and tokens', async () => {
    const { check, intact } = fuzzing();
    const browser = new Browser(kluis.issuer);
    for (const body of JSON_BODIES) {
      await check(
        `POST /reg ${body.slice(0, 20)}`,
        await fetch(new URL('/reg', kluis.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
          body,
        }),
      );
    }
    for (const [name, value] of HOSTILE) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the NUL the probe itself contains
      const token = value.replace(/[\r\n\u0000]/g, '').replace(/[^\x20-\x7e]/g, '?');
      await check(
        `GET /reg/:id ${name}`,
        await fetch(new URL(`/reg/${enc(value)}`, kluis.url), { headers: { authorization: `Bearer ${token}` } }),
      );
      await check(
        `PUT /reg/:id ${name}`,
        await fetch(new URL(`/reg/${enc(value)}`, kluis.url), {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ client_name: value }),
        }),
      );
      await check(
        `DELETE /reg/:id ${name}`,
        await fetch(new URL(`/reg/${enc(value)}`, kluis.url), {
          method: 'DELETE',
          headers: { authorization: `Bearer ${token}` },
        }),
      );
      await check(
        `GET /me ${name}`,
        await fetch(new URL('/me', kluis.url), { headers: { authorization: `Bearer ${token}` } }),
      );
      await check(
        `POST /me ${name}`,
        await fetch(new URL('/me', kluis.url), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ access_token: value }),
        }),
      );
      await check(
        `GET /session/end ${name}`,
        await browser.request(
          `/session/end?${new URLSearchParams({ id_token_hint: value, post_logout_redirect_uri: value, state: value })}`,
        ),
      );
      await check(
        `POST /session/end/confirm ${name}`,
        await browser.request('/session/end/confirm', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ xsrf: value, logout: value }),
        }),
      );
    }
    await intact(70);
  });

  test("Kluis's own forms and pages: sign-in, MFA, enrolment, consent, cancel, the account area and discovery", async () => {
    const { check, intact } = fuzzing();
    const { browser, uid } = await atSignIn();
    for (const [name, value] of HOSTILE) {
      for (const action of ['login', 'mfa', 'enrol', 'consent', 'cancel']) {
        const body = new URLSearchParams({
          csrf: value,
          username: value,
          password: value,
          code: value,
          scope: value,
          decision: value,
        });
        await check(
          `POST /interaction/${action} ${name}`,
          await browser.request(`/interaction/${uid}/${action}`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body,
          }),
        );
      }
      await check(`GET /interaction/:uid ${name}`, await browser.request(`/interaction/${enc(value)}`));
      await check(
        `POST /interaction/:uid/login other uid ${name}`,
        await browser.request(`/interaction/${enc(value)}/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'username=a&password=b',
        }),
      );
      await check(
        `GET /account/callback ${name}`,
        await browser.request(
          `/account/callback?${new URLSearchParams({ code: value, state: value, error: name === 'sql' ? value : '' })}`,
        ),
      );
      await check(
        `GET /account/login ${name}`,
        await browser.request(`/account/login?${new URLSearchParams({ return: value, fresh: value })}`),
      );
      await check(
        `POST /account/delete ${name}`,
        await browser.request('/account/delete', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf: value, confirm: value }),
        }),
      );
      await check(
        `GET discovery ${name}`,
        await fetch(new URL(`/.well-known/openid-configuration?x=${enc(value)}`, kluis.url)),
      );
    }
    for (const [name, body] of RAW_FORMS) {
      for (const action of ['login', 'mfa', 'consent']) {
        await check(
          `POST /interaction/${action} raw ${name}`,
          await browser.request(`/interaction/${uid}/${action}`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body,
          }),
        );
      }
    }
    for (const contentType of ['application/json', 'text/xml', 'multipart/form-data; boundary=x']) {
      await check(
        `POST /interaction/login as ${contentType}`,
        await browser.request(`/interaction/${uid}/login`, {
          method: 'POST',
          headers: { 'content-type': contentType },
          body: '{"username":"a"}',
        }),
      );
    }
    await intact(110);
  });
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { AuditLog } from '../../src/audit/writer.ts';
import { PgAccountStore } from '../../src/db/account-store.ts';
import { PgAuditStore } from '../../src/db/audit-chain.ts';
import { SignIn } from '../../src/auth/sign-in.ts';
import { checkTotp } from '../../src/auth/totp.ts';
import { loadConfig } from '../../src/config/env.ts';
import { createLogger } from '../../src/log/logger.ts';
import { loadServerSecrets } from '../../src/secrets/server-secrets.ts';
import { generate } from 'otplib';
import { Browser, formAction } from '../support/browser.ts';
import { registerClient } from '../support/clients.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { STRONG_SECRET } from '../support/secrets.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { runCli, startTestKluis, type TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { REDIRECT, RelyingParty, signIn } from '../support/rp.ts';

// What an attacker probes at the sign-in pages (PSD2 RTS Art 4; checklist M1-M8).
let t: TestDatabase;
let kluis: TestKluis;
let rp: RelyingParty;
const PASSWORD = 'a long passphrase for bob';
const people: Record<string, string> = {};
let house: KluisFixture<'web', string>;

before(async () => {
  const names = ['bob', 'carol', 'dave', 'erin', 'frank'];
  house = await withKluis({
    clients: { web: { redirect_uris: [REDIRECT], scope: 'openid profile email', client_name: 'Shop' } },
    people: Object.fromEntries(names.map((name) => [name, { password: PASSWORD, totp: true }])),
    env: { LOGIN_IP_LIMIT: '1000' },
  });
  ({ database: t, kluis } = house);
  for (const name of names) people[name] = house.people[name]!.secret!;
  rp = await RelyingParty.create(kluis.issuer, house.clients.web as AdapterPayload);
});
after(() => house?.stop());

async function loginPage(browser: Browser, params: Record<string, string> = {}) {
  const request = await rp.request(params);
  const { res, external } = await browser.follow(request.url);
  return { request, page: external ? '' : await res.text(), status: res.status, external };
}

/** Signs in (consenting if asked) and returns the authorization response URL. */
async function fullSignIn(browser: Browser, username: string, code: string, password = PASSWORD) {
  const { page, request } = await loginPage(browser);
  let { res, external } = await signIn(browser, page, username, password, code);
  if (!external && res.status === 200) {
    const consentPage = await res.text();
    if (consentPage.includes('/consent"'))
      ({ external } = await browser.submit(formAction(consentPage, 'consent'), consentPage, {
        scope: ['profile', 'email'],
      }));
  }
  return { external, request };
}

describe('no factor disclosure', () => {
  test('unknown user, wrong password and wrong code end on the same page with the same status', async () => {
    const secret = (await addPerson(t.url, 'ida', PASSWORD, { totp: true })).secret!;
    const kinds = [
      ['unknown user', 'nobody-here', PASSWORD, () => '123456'],
      ['wrong password', 'ida', 'wrong password', () => totpCode(secret)],
      ['wrong code', 'ida', PASSWORD, () => '000000'],
    ] as const;
    const outcomes: { kind: string; status: number; body: string; ms: number }[] = [];
    // A warm-up sign-in, then two rounds (four failures for ida: below the lockout threshold).
    for (const [kind, username, password, code] of [kinds[0], ...kinds, ...kinds]) {
      const browser = new Browser(kluis.issuer);
      const { page } = await loginPage(browser);
      const started = performance.now();
      const { res: mfa } = await browser.submit(formAction(page, 'login'), page, { username, password });
      const mfaPage = await mfa.text();
      assert.match(mfaPage, /verification code/, 'the second factor is always asked for');
      const { res } = await browser.submit(formAction(mfaPage, 'mfa'), mfaPage, { code: await code() });
      const body = (await res.text()).replace(/[\w-]{20,}/g, 'X'); // uid and CSRF token differ per interaction
      outcomes.push({ kind, status: res.status, body, ms: performance.now() - started });
    }
    assert.equal(new Set(outcomes.map((o) => o.status)).size, 1);
    assert.equal(new Set(outcomes.map((o) => o.body)).size, 1);
    // Measured, not asserted: printed for the record.
    const measured = outcomes.slice(1);
    const mean = (kind: string) =>
      measured.filter((o) => o.kind === kind).reduce((sum, o, _i, all) => sum + o.ms / all.length, 0);
    const means = kinds.map(([kind]) => `${kind} ${mean(kind).toFixed(0)}`).join(', ');
    console.log(`# sign-in failure timings, mean of 2 (ms): ${means}`);
  });
});

describe('TOTP', () => {
  test('one step of clock drift is accepted either way, two are not', async () => {
    const secret = people.carol!;
    const now = Date.now();
    const at = (offset: number) => generate({ secret, epoch: Math.floor(now / 1000) + offset });
    assert.notEqual(await checkTotp(secret, await at(0), null, now), null);
    assert.notEqual(await checkTotp(secret, await at(-30), null, now), null);
    assert.notEqual(await checkTotp(secret, await at(30), null, now), null);
    assert.equal(await checkTotp(secret, await at(-60), null, now), null);
    assert.equal(await checkTotp(secret, await at(60), null, now), null);
  });

  test('a code at or before the last accepted step is refused', async () => {
    const secret = people.carol!;
    const now = Date.now();
    const code = await generate({ secret, epoch: Math.floor(now / 1000) });
    const step = (await checkTotp(secret, code, null, now))!;
    assert.equal(await checkTotp(secret, code, step, now), null);
    assert.equal(await checkTotp(secret, code, step - 1, now), step);
  });

  test('a recovery code of the format before migration 0008 (SHA-256 of 12 characters) is re-wrapped and works once', async () => {
    await t.db.query(`delete from recovery_codes`);
    const { rows } = await t.db.query<{ id: string }>(`select id from accounts where username = 'dave'`);
    const legacy = createHash('sha256').update('abcdefghjkmn').digest('hex');
    await t.db.query(`insert into recovery_codes (account_id, code_hash, scheme) values ($1, $2, 'sha256')`, [
      rows[0]!.id,
      legacy,
    ]);
    // A database from before this version: no marker yet. Any start (here the CLI's) re-wraps the old rows.
    const stored = async () =>
      (await t.db.query<{ code_hash: string; scheme: string }>('select code_hash, scheme from recovery_codes')).rows;
    let wrapped: string | undefined;
    for (let start = 0; start < 2; start += 1) {
      await t.db.query(`delete from server_secrets where name = 'recovery_codes_rewrapped'`);
      assert.equal((await runCli(['users', 'list'], { DATABASE_URL: t.url, LOG_LEVEL: 'silent' })).code, 0);
      const [row, ...more] = await stored();
      assert.equal(more.length, 0);
      assert.equal(row!.scheme, 'hmac-sha256', 're-wrapped, and only once however often it runs');
      assert.ok(!JSON.stringify(await stored()).includes(legacy), 'no plain SHA-256 of the code left to crack');
      assert.doesNotMatch(row!.code_hash, /^[0-9a-f]{64}$/);
      wrapped ??= row!.code_hash;
      assert.equal(row!.code_hash, wrapped, 'a second run wraps nothing twice');
    }

    const first = await fullSignIn(new Browser(kluis.issuer), 'dave', 'ABCD-EFGH-JKMN');
    assert.ok(first.external?.searchParams.get('code'), 'recovery code accepted');
    const second = await fullSignIn(new Browser(kluis.issuer), 'dave', 'abcd-efgh-jkmn');
    assert.equal(second.external, undefined, 'the same recovery code is refused');
  });
});

describe('recovery codes at rest', () => {
  test('new recovery codes carry at least 112 bits, are stored only as keyed hashes (no SHA-256 of them) and work once', async () => {
    const config = loadConfig({ DATABASE_URL: t.url });
    const secrets = await loadServerSecrets(t.db, config);
    const { rows } = await t.db.query<{ id: string }>(`select id from accounts where username = 'dave'`);
    const accountId = rows[0]!.id;
    const audit = new AuditLog(new PgAuditStore(t.db), createLogger('silent'));
    const signIn = new SignIn(new PgAccountStore(t.db), secrets.box, audit, config.sca);
    const codes = await signIn.regenerateRecoveryCodes(accountId, { ip: '127.0.0.1', device: 'test' });
    for (const code of codes) {
      const normalised = code.replaceAll('-', '');
      assert.match(normalised, /^[a-hj-km-np-z2-9]+$/, 'from the 31-letter alphabet');
      assert.ok(
        normalised.length * Math.log2(31) >= 112,
        `${code}: ${(normalised.length * Math.log2(31)).toFixed(1)} bits`,
      );
    }
    const { rows: stored } = await t.db.query<{ code_hash: string; scheme: string }>(
      'select code_hash, scheme from recovery_codes where account_id = $1',
      [accountId],
    );
    assert.equal(stored.length, 10);
    const dump = JSON.stringify(stored);
    for (const code of codes) {
      const normalised = code.replaceAll('-', '');
      for (const guess of [
        normalised,
        createHash('sha256').update(normalised).digest('hex'),
        createHash('sha256').update(normalised).digest('base64url'),
      ]) {
        assert.ok(!dump.includes(guess), 'a dump alone cannot test guesses against the stored hashes');
      }
    }
    assert.ok(stored.every((row) => row.scheme === 'hmac'));

    const first = await fullSignIn(new Browser(kluis.issuer), 'dave', codes[3]!.toUpperCase());
    assert.ok(first.external?.searchParams.get('code'), 'a new recovery code signs in');
    const second = await fullSignIn(new Browser(kluis.issuer), 'dave', codes[3]!);
    assert.equal(second.external, undefined, 'once');
  });
});

describe('lockout', () => {
  test('five failures of either factor lock the account, even for the right credentials; the operator can unlock', async () => {
    const secret = people.erin!;
    for (let i = 0; i < 5; i += 1) {
      const browser = new Browser(kluis.issuer);
      const { page } = await loginPage(browser);
      // Alternate the failing factor: the counter is shared.
      await signIn(
        browser,
        page,
        'erin',
        i % 2 ? 'wrong password' : PASSWORD,
        i % 2 ? await totpCode(secret) : '000000',
      );
    }
    const { rows } = await t.db.query<{ locked_until: Date | null }>(
      `select locked_until from accounts where username = 'erin'`,
    );
    assert.ok(rows[0]!.locked_until! > new Date(), 'locked');

    const locked = await fullSignIn(new Browser(kluis.issuer), 'erin', await totpCode(secret));
    assert.equal(locked.external, undefined, 'right password and code, still refused while locked');

    const { rows: events } = await t.db.query(
      `select type from audit_events where type in ('login.failed', 'account.locked')
       and account_id = (select id from accounts where username = 'erin')`,
    );
    assert.equal(events.filter((e) => e.type === 'account.locked').length, 1);
    assert.ok(events.filter((e) => e.type === 'login.failed').length >= 6);

    const unlocked = await runCli(['users', 'unlock', 'erin'], { DATABASE_URL: t.url });
    assert.equal(unlocked.code, 0, unlocked.stderr);
    const after = await fullSignIn(new Browser(kluis.issuer), 'erin', await totpCode(secret, 1));
    assert.ok(after.external?.searchParams.get('code'), 'signs in after the unlock');
  });
});

describe('per-IP throttle', () => {
  test('after LOGIN_IP_LIMIT failures from one address, sign-in from it is refused for every account', async () => {
    await t.db.query('delete from login_failures_by_ip');
    const strict = await startTestKluis(t.url, { LOGIN_IP_LIMIT: '5' });
    try {
      const client = await registerClient(t.url, { redirect_uris: [REDIRECT], scope: 'openid profile email' });
      const strictRp = await RelyingParty.create(strict.issuer, client);
      const open = async () => {
        const b = new Browser(strict.issuer);
        const { res } = await b.follow((await strictRp.request()).url);
        return { b, page: await res.text() };
      };
      // Five different accounts, one failure each: no account reaches its own lockout threshold.
      for (const name of ['u1', 'u2', 'u3', 'u4', 'u5']) {
        const { b, page } = await open();
        await signIn(b, page, name, 'guess', '123456');
      }
      const { b, page } = await open();
      const { res, external } = await b.submit(formAction(page, 'login'), page, {
        username: 'frank',
        password: PASSWORD,
      });
      assert.equal(external, undefined);
      assert.match(await res.text(), /Too many failed sign-ins from your network/);
      const { rows } = await t.db.query<{ n: number }>(
        `select count(*)::int as n from audit_events where type = 'login.throttled'`,
      );
      assert.ok(rows[0]!.n >= 1);
    } finally {
      await strict.stop();
      await t.db.query('delete from login_failures_by_ip');
    }
  });
});

describe('per-IP throttle behind a proxy', () => {
  test('with TRUST_PROXY the address the proxy saw counts; client-written X-Forwarded-For entries cannot dodge it', async () => {
    await t.db.query('delete from login_failures_by_ip');
    const proxied = await startTestKluis(t.url, { LOGIN_IP_LIMIT: '5', TRUST_PROXY: 'true' });
    try {
      const client = await registerClient(t.url, { redirect_uris: [REDIRECT], scope: 'openid profile email' });
      const proxiedRp = await RelyingParty.create(proxied.issuer, client);
      // The proxy appends the address it saw (203.0.113.7) to whatever the client sent.
      const open = async (forwardedFor: string) => {
        const b = new Browser(proxied.issuer, { 'x-forwarded-for': forwardedFor });
        const { res } = await b.follow((await proxiedRp.request()).url);
        return { b, page: await res.text() };
      };
      for (const n of [1, 2, 3, 4, 5]) {
        const { b, page } = await open(`198.51.100.${n}, 203.0.113.7`);
        await signIn(b, page, `p${n}`, 'guess', '123456');
      }
      const { b, page } = await open('198.51.100.99, 203.0.113.7');
      const { res } = await b.submit(formAction(page, 'login'), page, { username: 'frank', password: PASSWORD });
      assert.match(await res.text(), /Too many failed sign-ins from your network/);

      const other = await open('203.0.113.8');
      const { res: fine } = await other.b.submit(formAction(other.page, 'login'), other.page, {
        username: 'frank',
        password: PASSWORD,
      });
      assert.doesNotMatch(await fine.text(), /Too many failed sign-ins/, 'another address is not affected');
    } finally {
      await proxied.stop();
      await t.db.query('delete from login_failures_by_ip');
    }
  });
});

describe('forms and flow integrity', () => {
  test('skipping the second factor yields no code', async () => {
    const browser = new Browser(kluis.issuer);
    const { page } = await loginPage(browser);
    const { res: mfa } = await browser.submit(formAction(page, 'login'), page, {
      username: 'frank',
      password: PASSWORD,
    });
    const uid = /\/interaction\/([\w-]+)\/mfa/.exec(await mfa.text())![1]!;
    // Straight back to the authorization endpoint: the provider asks for login again.
    const { res: resumed, external } = await browser.follow(`/auth/${uid}`);
    assert.equal(external, undefined);
    assert.match(await resumed.text(), /autocomplete="current-password"/);
    // Straight to consent: refused.
    const consent = await browser.submit(`/interaction/${uid}/consent`, page, { scope: 'profile' });
    assert.equal(consent.external, undefined);
    assert.equal(consent.res.status, 400);
  });

  test('a form without the right CSRF token is refused with 403', async () => {
    const browser = new Browser(kluis.issuer);
    const { page } = await loginPage(browser);
    for (const csrf of ['', 'forged']) {
      const { res } = await browser.submit(formAction(page, 'login'), page, {
        csrf,
        username: 'frank',
        password: PASSWORD,
      });
      assert.equal(res.status, 403);
    }
  });

  test('an interaction opened in another browser is not found', async () => {
    const { page } = await loginPage(new Browser(kluis.issuer));
    const other = new Browser(kluis.issuer);
    const { res } = await other.submit(formAction(page, 'login'), page, { username: 'frank', password: PASSWORD });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /unknown or has expired/);
  });

  test('pages carry security headers; cookies are HttpOnly and SameSite=Lax', async () => {
    const request = await rp.request();
    const res = await fetch(request.url, { redirect: 'manual' });
    const cookies = res.headers.getSetCookie();
    assert.ok(cookies.length > 0);
    for (const cookie of cookies) {
      assert.match(cookie, /httponly/i);
      assert.match(cookie, /samesite=lax/i);
    }
    const browser = new Browser(kluis.issuer);
    const first = await browser.request(request.url);
    const page = await browser.request(first.headers.get('location')!);
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.doesNotMatch(await page.text(), /(src|href)="https?:\/\/(?!rp\.example)/, 'no third-party resources');
  });

  test('over https every cookie is Secure and prefixed (__Host- for the session), HttpOnly, SameSite=Lax; HSTS is sent', async () => {
    const production = await createTestDatabase();
    const issuer = 'https://login.bank.example';
    const env = { ISSUER: issuer, TRUST_PROXY: 'true', KLUIS_SECRET: STRONG_SECRET };
    const server = await startTestKluis(production.url, env);
    try {
      const client = await registerClient(production.url, { redirect_uris: [REDIRECT], scope: 'openid' }, env);
      const person = await addPerson(production.url, 'henk', PASSWORD, { totp: true }, env);
      // The TLS-terminating proxy in front of Kluis says the browser used https.
      const browser = new Browser(
        server.url,
        { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'login.bank.example' },
        issuer,
      );
      const verifier = 'a-code-verifier-of-at-least-43-characters-long-xyz';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const query = new URLSearchParams({
        client_id: String(client.client_id),
        redirect_uri: REDIRECT,
        response_type: 'code',
        scope: 'openid',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        nonce: 'n',
        state: 's',
      });
      const { res } = await browser.follow(`${issuer}/auth?${query}`);
      assert.equal(res.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains');
      const { res: consent } = await signIn(
        browser,
        await res.text(),
        'henk',
        PASSWORD,
        await totpCode(person.secret!),
      );
      const consentPage = await consent.text();
      const { external } = await browser.submit(formAction(consentPage, 'consent'), consentPage, {});
      assert.ok(external?.searchParams.get('code'), 'signed in over https');

      const names = browser.setCookies.map((line) => line.split('=')[0]!);
      assert.ok(names.includes('__Host-kluis.session'), `session cookie is __Host-: ${names.join(', ')}`);
      for (const line of browser.setCookies) {
        if (/expires=Thu, 01 Jan 1970/i.test(line)) continue;
        assert.match(line, /^__(Host|Secure)-/, line);
        assert.match(line, /;\s*secure/i, line);
        assert.match(line, /httponly/i, line);
        assert.match(line, /samesite=lax/i, line);
        if (line.startsWith('__Host-')) {
          assert.match(line, /path=\/(;|$)/i, line);
          assert.doesNotMatch(line, /domain=/i, line);
        }
      }
    } finally {
      await server.stop();
      await production.drop();
    }
  });

  test('a password of 100 characters is used whole, not truncated', async () => {
    const long = 'p'.repeat(100);
    const added = await addPerson(t.url, 'grace', long, { totp: true });
    const browser = new Browser(kluis.issuer);
    const { page } = await loginPage(browser);
    const truncated = await signIn(browser, page, 'grace', long.slice(0, 72), await totpCode(added.secret!));
    assert.equal(truncated.external, undefined);
    const whole = await fullSignIn(new Browser(kluis.issuer), 'grace', await totpCode(added.secret!, 1), long);
    assert.ok(whole.external?.searchParams.get('code'), 'the whole password signs in');
  });
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { SCA_ACR } from '../../src/oidc/provider/sca-policy.ts';
import { Browser, formAction } from '../support/browser.ts';
import type { TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { runCli, type TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { activate, REDIRECT, RelyingParty, signIn } from '../support/rp.ts';

// Issue 13 finding 2: an account without an authenticator (a new account, one after `users reset-mfa`, the demo
// person) must not be taken over with the password alone, and its password step must not be an oracle
// (PSD2 RTS Art 4(3)(a), Art 22-24: the possession element is bound to the person out of band).
let t: TestDatabase;
let kluis: TestKluis;
let rp: RelyingParty;
const PASSWORD = 'activation test passphrase';
let house: KluisFixture<'web', 'vera'>;

before(async () => {
  house = await withKluis({
    clients: { web: { redirect_uris: [REDIRECT], scope: 'openid profile email', client_name: 'Shop' } },
    people: { vera: { password: PASSWORD, totp: true } },
    env: { LOGIN_IP_LIMIT: '100000' },
  });
  ({ database: t, kluis } = house);
  rp = await RelyingParty.create(kluis.issuer, house.clients.web as AdapterPayload);
});
after(() => house?.stop());

async function loginPage(browser: Browser) {
  const request = await rp.request();
  const { res } = await browser.follow(request.url);
  return { request, page: await res.text() };
}

/** The page after the password step, with what differs per interaction (uid, CSRF token) blanked out. */
async function afterPassword(username: string, password: string) {
  const browser = new Browser(kluis.issuer);
  const { page } = await loginPage(browser);
  const { res } = await browser.submit(formAction(page, 'login'), page, { username, password });
  const body = await res.text();
  return { browser, body, status: res.status, url: res.url, normalised: body.replace(/[\w-]{20,}/g, 'X') };
}

const failure = (page: string) => page.replace(/[\w-]{20,}/g, 'X');

describe('an account without an authenticator', () => {
  test('the right and a wrong password lead to the same code page as for an enrolled or unknown account', async () => {
    await addPerson(t.url, 'una', PASSWORD);
    const seen = [
      await afterPassword('una', PASSWORD),
      await afterPassword('una', 'not the password'),
      await afterPassword('vera', PASSWORD),
      await afterPassword('nobody-here', PASSWORD),
    ];
    for (const page of seen) {
      assert.equal(page.status, 200);
      assert.match(new URL(page.url).pathname, /\/mfa$/);
      assert.doesNotMatch(page.body, /totp-secret|data:image\/png/, 'no secret after the password step');
    }
    assert.equal(new Set(seen.map((page) => page.normalised)).size, 1, 'one page for all four');

    // The enrolment page cannot be opened by hand after the password step.
    const { browser, body } = seen[0]!;
    const uid = /\/interaction\/([\w-]+)\/mfa/.exec(body)![1]!;
    const { res } = await browser.follow(`/interaction/${uid}/enrol`);
    assert.doesNotMatch(await res.text(), /totp-secret/);
  });

  test('the password with a guessed code fails exactly like any other failure and enrols nothing', async () => {
    await addPerson(t.url, 'ulla', PASSWORD);
    const reference = new Browser(kluis.issuer);
    const { res: refRes } = await signIn(reference, (await loginPage(reference)).page, 'vera', PASSWORD, '000000');
    const expected = failure(await refRes.text());
    for (const code of ['123456', 'abcd-efgh-jkmn-pqrs-tuvw', '']) {
      const browser = new Browser(kluis.issuer);
      const { res, external } = await signIn(browser, (await loginPage(browser)).page, 'ulla', PASSWORD, code);
      assert.equal(external, undefined);
      assert.equal(res.status, refRes.status);
      assert.equal(failure(await res.text()), expected);
    }
    const { rows } = await t.db.query(`select totp_secret_encrypted from accounts where username = 'ulla'`);
    assert.equal(rows[0]!.totp_secret_encrypted, null);
  });

  test('password and activation code together enrol and sign in with SCA; the code works once, never with a wrong password', async () => {
    const { activation_code: code } = await addPerson(t.url, 'wanda', PASSWORD);
    // A wrong password with the right code fails and does not use the code up.
    const wrong = new Browser(kluis.issuer);
    const { res: failed } = await signIn(wrong, (await loginPage(wrong)).page, 'wanda', 'not the password', code!);
    assert.match(await failed.text(), /not correct/);

    const browser = new Browser(kluis.issuer);
    const { page, request } = await loginPage(browser);
    const activated = await activate(browser, page, 'wanda', PASSWORD, code!);
    assert.match(activated.enrolPage, /<img src="data:image\/png;base64,/);
    assert.equal(activated.codes.length, 10);
    const { res: consent } = await browser.follow(activated.continueTo!);
    const consentPage = await consent.text();
    const { external } = await browser.submit(formAction(consentPage, 'consent'), consentPage, { scope: ['profile'] });
    const tokens = await rp.redeem(external!, request);
    assert.equal(tokens.claims()!.acr, SCA_ACR);

    const again = new Browser(kluis.issuer);
    const { res: reused } = await signIn(again, (await loginPage(again)).page, 'wanda', PASSWORD, code!);
    assert.match(await reused.text(), /not correct/, 'the activation code is used up');
    const fresh = new Browser(kluis.issuer);
    const { external: signedIn } = await signIn(
      fresh,
      (await loginPage(fresh)).page,
      'wanda',
      PASSWORD,
      await totpCode(activated.secret, 1),
    );
    assert.ok(signedIn?.searchParams.get('code'), 'the enrolled authenticator signs in');
  });

  test('failed attempts count towards the lockout and the address throttle; a locked account cannot be activated', async () => {
    const { activation_code: code, id } = await addPerson(t.url, 'xavier', PASSWORD);
    const ipBefore = await t.db.query<{ failures: number }>(
      'select coalesce(sum(failures), 0)::int as failures from login_failures_by_ip',
    );
    for (let i = 0; i < 5; i += 1) {
      const browser = new Browser(kluis.issuer);
      await signIn(browser, (await loginPage(browser)).page, 'xavier', PASSWORD, 'zzzz-zzzz-zzzz-zzzz-zzzz');
    }
    const { rows } = await t.db.query<{ locked_until: Date | null }>(
      'select locked_until from accounts where id = $1',
      [id],
    );
    assert.ok(rows[0]!.locked_until! > new Date(), 'locked after five failures');
    const ipAfter = await t.db.query<{ failures: number }>(
      'select coalesce(sum(failures), 0)::int as failures from login_failures_by_ip',
    );
    assert.equal(ipAfter.rows[0]!.failures - ipBefore.rows[0]!.failures, 5, 'each failure counted for the address');

    const browser = new Browser(kluis.issuer);
    const { res } = await signIn(browser, (await loginPage(browser)).page, 'xavier', PASSWORD, code!);
    assert.doesNotMatch(await res.text(), /totp-secret/, 'the right code is refused while locked');
    const { rows: left } = await t.db.query('select 1 from activation_codes where account_id = $1', [id]);
    assert.equal(left.length, 1, 'and not used up');
  });

  test('an expired activation code is refused', async () => {
    const { activation_code: code, id } = await addPerson(t.url, 'yusuf', PASSWORD);
    await t.db.query(`update activation_codes set expires_at = now() - interval '1 second' where account_id = $1`, [
      id,
    ]);
    const browser = new Browser(kluis.issuer);
    const { res } = await signIn(browser, (await loginPage(browser)).page, 'yusuf', PASSWORD, code!);
    const page = await res.text();
    assert.doesNotMatch(page, /totp-secret/);
    assert.match(page, /not correct/);
  });

  test('of parallel sign-ins with one activation code exactly one reaches enrolment', async () => {
    const { activation_code: code } = await addPerson(t.url, 'zoe', PASSWORD);
    const pending = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const browser = new Browser(kluis.issuer);
        const { page } = await loginPage(browser);
        const { res } = await browser.submit(formAction(page, 'login'), page, { username: 'zoe', password: PASSWORD });
        return { browser, page: await res.text() };
      }),
    );
    const pages = await Promise.all(
      pending.map(
        async ({ browser, page }) =>
          await (await browser.submit(formAction(page, 'mfa'), page, { code: code! })).res.text(),
      ),
    );
    assert.equal(pages.filter((page) => page.includes('id="totp-secret"')).length, 1);
  });

  test('an enrolment begun before users reset-mfa cannot be finished: the new activation code ends it', async () => {
    const { activation_code: code, id } = await addPerson(t.url, 'rhea', PASSWORD);
    const browser = new Browser(kluis.issuer);
    const { page } = await loginPage(browser);
    const { res: enrol } = await signIn(browser, page, 'rhea', PASSWORD, code!);
    const enrolPage = await enrol.text();
    const secret = /id="totp-secret" class="secret">([A-Z2-7 ]+)</.exec(enrolPage)?.[1]?.replaceAll(' ', '');
    assert.ok(secret, 'the enrolment page after password and activation code');
    const reset = await runCli(['users', 'reset-mfa', 'rhea'], { DATABASE_URL: t.url, LOG_LEVEL: 'silent' });
    assert.equal(reset.code, 0, reset.stderr);
    const { res: after } = await browser.submit(formAction(enrolPage, 'enrol'), enrolPage, {
      code: await totpCode(secret),
    });
    assert.doesNotMatch(await after.text(), /<li>[a-z0-9]{4}-/, 'no recovery codes');
    const { rows } = await t.db.query(
      'select totp_secret_encrypted is null as unenrolled from accounts where id = $1',
      [id],
    );
    assert.equal(rows[0]?.unenrolled, true, 'the authenticator of the abandoned enrolment is not stored');
    const { rows: left } = await t.db.query(
      `select 1 from oidc_models where payload->'result'->'kluis'->'enrolment'->>'accountId' = $1`,
      [id],
    );
    assert.equal(left.length, 0, 'the interaction holding the enrolment is gone');
    // The new code enrols as usual.
    const fresh = new Browser(kluis.issuer);
    const { page: again } = await loginPage(fresh);
    const activated = await activate(fresh, again, 'rhea', PASSWORD, JSON.parse(reset.stdout).activation_code);
    assert.equal(activated.codes.length, 10);
  });

  test('the activation code is stored only as a keyed hash', async () => {
    const { activation_code: code, id } = await addPerson(t.url, 'abel', PASSWORD);
    const { rows } = await t.db.query<{ code_hash: string }>(
      'select code_hash from activation_codes where account_id = $1',
      [id],
    );
    const normalised = code!.replaceAll('-', '');
    assert.notEqual(rows[0]!.code_hash, createHash('sha256').update(normalised).digest('hex'));
    assert.notEqual(rows[0]!.code_hash, createHash('sha256').update(normalised).digest('base64url'));
    assert.ok(!rows[0]!.code_hash.includes(normalised));
  });
});

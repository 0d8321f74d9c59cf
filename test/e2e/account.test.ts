import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { Browser, formAction } from '../support/browser.ts';
import type { TestDatabase } from '../support/database.ts';
import { type AddedPerson, withKluis, type KluisFixture } from '../support/fixture.ts';
import type { TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { registerWebApp, signIn, type RelyingParty, type PendingRequest } from '../support/rp.ts';

// A person consents to two apps, then withdraws one in the account area: that app's access ends at once, the
// other app and the SSO session are untouched, and the consent ledger shows it all.
// One Kluis for the file; each test that signs in has a person, a browser and apps of its own.
let t: TestDatabase;
let kluis: TestKluis;
const PASSWORD = 'account area passphrase';
const browser = () => new Browser(kluis.issuer);
let house: KluisFixture<never, 'anna'>;

before(async () => {
  house = await withKluis({
    people: { anna: { password: PASSWORD, totp: true, email: 'anna@example.com', name: 'Anna Account' } },
  });
  ({ database: t, kluis } = house);
});
after(() => house?.stop());

const app = (name: string, redirect: string) => registerWebApp(t.url, kluis.issuer, name, redirect);
/** A person of the calling test's own, with the file's password and an enrolled authenticator. */
const newPerson = (username: string) => addPerson(t.url, username, PASSWORD, { totp: true });

/** Follows an authorization request in `me` as `person`: signs in if asked, consents if asked; returns the tokens. */
async function authorize(me: Browser, person: AddedPerson, rp: RelyingParty, params: Record<string, string> = {}) {
  const request: PendingRequest = await rp.request({
    scope: 'openid profile offline_access',
    prompt: 'consent',
    ...params,
  });
  let { res, external } = await me.follow(request.url);
  const seen: string[] = [];
  for (let steps = 0; !external && steps < 4; steps += 1) {
    const page = await res.text();
    if (page.includes('/login"')) {
      seen.push('login');
      ({ res, external } = await signIn(me, page, person.username, PASSWORD, await totpCode(person.secret!)));
    } else if (page.includes('/consent"')) {
      seen.push('consent');
      ({ res, external } = await me.submit(formAction(page, 'consent'), page, {
        scope: ['profile', 'offline_access'],
      }));
    } else {
      throw new Error(`unexpected page:\n${page.slice(0, 1500)}`);
    }
  }
  assert.ok(external, 'back at the app');
  return { tokens: await rp.redeem(external, request), seen };
}

describe('the account area', () => {
  test("withdrawing one consent ends that app's access at once; the other app and the SSO session keep working; the ledger shows it", async () => {
    const person = house.people.anna;
    const me = browser();
    const budget = await app('Budget app', 'https://budget.example/cb');
    const savings = await app('Savings app', 'https://savings.example/cb');
    const first = await authorize(me, person, budget.rp);
    assert.deepEqual(first.seen, ['login', 'consent']);
    const second = await authorize(me, person, savings.rp);
    assert.deepEqual(second.seen, ['consent'], 'SSO: no second sign-in');
    assert.ok(first.tokens.refresh_token && second.tokens.refresh_token);

    // Into the account area: the same SSO session, through Kluis's own client, no consent screen.
    const { res: home } = await me.follow('/account');
    assert.equal(home.status, 200);
    assert.match(await home.text(), /id="username">anna</);
    const { res: list } = await me.follow('/account/consents');
    const consentsPage = await list.text();
    assert.match(consentsPage, /Budget app/);
    assert.match(consentsPage, /Savings app/);
    assert.doesNotMatch(consentsPage, /Your Kluis account/, 'the account area itself is not a consent');
    assert.match(consentsPage, /Your name and profile/, "in the consent screen's wording");

    const budgetGrant = new RegExp(
      `data-client="${String(budget.client.client_id)}"[\\s\\S]*?href="(/account/consents/[^"]+/revoke)"`,
    ).exec(consentsPage)![1]!;
    const { res: confirm } = await me.follow(budgetGrant);
    const confirmPage = await confirm.text();
    assert.match(confirmPage, /Withdraw Budget app(&#39;|')s access\?/);
    const refused = await me.request(budgetGrant, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=forged',
    });
    assert.equal(refused.status, 403, 'CSRF token required');
    const revoked = await me.request(budgetGrant, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: /name="csrf" value="([^"]+)"/.exec(confirmPage)![1]! }),
    });
    assert.equal(revoked.status, 303);
    const { res: after } = await me.follow(revoked.headers.get('location')!);
    const afterPage = await after.text();
    assert.match(afterPage, /You withdrew Budget app&#39;s access\. Its access ended now\./);
    assert.doesNotMatch(afterPage, /data-client="[^"]*"[^>]*>\s*<h2>Budget app/);

    // Budget app: everything fails at once.
    await assert.rejects(
      oidc.refreshTokenGrant(budget.rp.config, first.tokens.refresh_token!),
      (err: { error?: string }) => err.error === 'invalid_grant',
    );
    assert.equal((await oidc.tokenIntrospection(budget.rp.config, first.tokens.access_token)).active, false);
    await assert.rejects(oidc.fetchUserInfo(budget.rp.config, first.tokens.access_token, oidc.skipSubjectCheck));

    // Savings app: untouched.
    assert.equal((await oidc.tokenIntrospection(savings.rp.config, second.tokens.access_token)).active, true);
    await oidc.fetchUserInfo(savings.rp.config, second.tokens.access_token, oidc.skipSubjectCheck);
    const refreshed = await oidc.refreshTokenGrant(savings.rp.config, second.tokens.refresh_token!);
    assert.ok(refreshed.access_token);

    // The SSO session remains: Savings signs in without a login; Budget has to ask for consent again.
    assert.deepEqual((await authorize(me, person, savings.rp, { prompt: 'none', scope: 'openid profile' })).seen, []);
    assert.deepEqual((await authorize(me, person, budget.rp, { prompt: '' })).seen, ['consent']);

    // The ledger: both consents given at the consent screen, Budget's withdrawn in the account area, then given again.
    const { rows } = await t.db.query<{ client_id: string; action: string; channel: string }>(
      'select client_id, action, channel from consent_ledger where account_id = $1 order by id',
      [person.id],
    );
    assert.deepEqual(rows, [
      { client_id: budget.client.client_id, action: 'granted', channel: 'consent_screen' },
      { client_id: savings.client.client_id, action: 'granted', channel: 'consent_screen' },
      { client_id: budget.client.client_id, action: 'revoked', channel: 'account_area' },
      { client_id: budget.client.client_id, action: 'granted', channel: 'consent_screen' },
    ]);
    await assert.rejects(
      t.db.query(`update consent_ledger set channel = 'operator'`),
      /consent_ledger is append-only \(UPDATE refused\)/,
    );
    await assert.rejects(t.db.query('delete from consent_ledger'), /append-only \(DELETE refused\)/);
    const history = await (await me.follow('/account/history')).res.text();
    assert.match(history, /access withdrawn from\s+Budget app through your account/);
    assert.match(history, /access given to\s+Savings app through the consent screen/);
  });

  test("an app that revokes its own refresh token gives up the consent; the ledger records it as the app's doing", async () => {
    const person = await newPerson('leo');
    const me = browser();
    const loans = await app('Loans app', 'https://loans.example/cb');
    const { tokens } = await authorize(me, person, loans.rp);
    await oidc.tokenRevocation(loans.rp.config, tokens.refresh_token!);
    let rows: { channel: string; action: string }[] = [];
    for (let tries = 0; tries < 40 && rows.length === 0; tries += 1) {
      ({ rows } = await t.db.query<{ channel: string; action: string }>(
        `select channel, action from consent_ledger where account_id = $1 and client_id = $2 and action = 'revoked'`,
        [person.id, loans.client.client_id],
      ));
      if (!rows.length) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(rows, [{ channel: 'client', action: 'revoked' }]);
    assert.doesNotMatch(await (await me.follow('/account/consents')).res.text(), /Loans app/);
  });

  test('without a session the account area sends the browser to sign in with both factors, then back', async () => {
    const person = await newPerson('nora');
    const fresh = browser();
    const { res } = await fresh.follow('/account/history');
    const page = await res.text();
    assert.match(page, /autocomplete="current-password"/, 'the normal sign-in page');
    const { res: mfa } = await fresh.submit(formAction(page, 'login'), page, { username: 'nora', password: PASSWORD });
    const mfaPage = await mfa.text();
    const { res: landed } = await fresh.submit(formAction(mfaPage, 'mfa'), mfaPage, {
      code: await totpCode(person.secret!),
    });
    assert.equal(landed.status, 200);
    assert.match(await landed.text(), /Your consent history/, 'back where the person wanted to go');
  });

  test("a logout naming the account area's own client names no app on its pages", async () => {
    const person = await newPerson('nelleke');
    const me = browser();
    const { res } = await me.follow('/account');
    const page = await res.text();
    const { res: mfa } = await me.submit(formAction(page, 'login'), page, { username: 'nelleke', password: PASSWORD });
    const mfaPage = await mfa.text();
    await me.submit(formAction(mfaPage, 'mfa'), mfaPage, { code: await totpCode(person.secret!) });
    const { res: ask } = await me.follow('/session/end?client_id=kluis-account');
    const question = await ask.text();
    assert.match(question, /Do you want to sign out\?/);
    assert.doesNotMatch(question, /Your Kluis account|asks to sign you out/);
  });

  test('every spelling of an account page (/ACCOUNT/CONSENTS, /Account) needs a session too', async () => {
    for (const path of ['/ACCOUNT/CONSENTS', '/Account', '/account/Security/', '/ACCOUNT/EXPORT']) {
      const res = await browser().request(path);
      assert.equal(res.status, 303, path);
      assert.match(res.headers.get('location') ?? '', /^\/account\/login\?return=/, path);
    }
    const post = await browser().request('/ACCOUNT/DELETE', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=x&confirm=anna',
    });
    assert.equal(post.status, 303);
    assert.match(post.headers.get('location') ?? '', /^\/account\/login\?return=/);
  });

  test('an SSO session older than SCA_MAX_AGE must sign in again before the account area opens', async () => {
    const person = await newPerson('sven');
    const me = browser();
    const { res: login } = await me.follow('/account');
    const { res: home } = await signIn(me, await login.text(), 'sven', PASSWORD, await totpCode(person.secret!));
    assert.match(await home.text(), /id="username">sven</, 'while the sign-in is fresh, the account area opens');
    await t.db.query(
      `update oidc_models set payload = jsonb_set(payload, '{loginTs}', to_jsonb((extract(epoch from now()) - 400)::bigint))
       where model = 'Session' and payload->>'accountId' = $1`,
      [person.id],
    );
    const { res } = await me.follow('/account');
    assert.match(await res.text(), /autocomplete="current-password"/);
  });

  test('a forged or replayed account-area callback is refused', async () => {
    const res = await browser().request('/account/callback?code=forged&state=forged');
    assert.equal(res.status, 400);
  });

  test('the operator lists and revokes consents with the CLI, recorded with the operator channel', async () => {
    const person = await newPerson('olga');
    const me = browser();
    await authorize(me, person, (await app('Pension app', 'https://pension.example/cb')).rp);
    await authorize(me, person, (await app('Mortgage app', 'https://mortgage.example/cb')).rp);
    const { runCli } = await import('../support/kluis.ts');
    const env = { DATABASE_URL: t.url };
    const listed = JSON.parse((await runCli(['consents', 'list', 'olga'], env)).stdout) as { client_id: string }[];
    assert.ok(listed.length >= 2);
    const target = listed[0]!.client_id;
    const result = await runCli(['consents', 'revoke', 'olga', target], env);
    assert.equal(result.code, 0, result.stderr);
    const after = JSON.parse((await runCli(['consents', 'list', 'olga'], env)).stdout) as { client_id: string }[];
    assert.ok(!after.some((consent) => consent.client_id === target));
    const { rows } = await t.db.query(
      `select 1 from consent_ledger where account_id = $1 and channel = 'operator' and client_id = $2`,
      [person.id, target],
    );
    assert.equal(rows.length, 1);
    const missing = await runCli(['consents', 'revoke', 'olga', 'no-such-client'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^kluis: olga has no consent for client no-such-client\n$/);
  });
});

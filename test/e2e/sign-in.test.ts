import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { SCA_ACR } from '../../src/oidc/provider/sca-policy.ts';
import { Browser, formAction } from '../support/browser.ts';
import type { TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import type { TestKluis } from '../support/kluis.ts';
import { addPerson, RECOVERY_CODE, totpCode } from '../support/people.ts';
import { activate, REDIRECT, RelyingParty, signIn } from '../support/rp.ts';

// A relying party (openid-client) sends a person through sign-in, activation and TOTP enrolment and consent, then
// redeems the code.
let t: TestDatabase;
let kluis: TestKluis;
let web: AdapterPayload;
let rp: RelyingParty;
const PASSWORD = 'correct horse battery staple';
let house: KluisFixture<'web', never>;

before(async () => {
  house = await withKluis({
    clients: {
      web: {
        client_name: 'Budget app',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile email offline_access',
        client_uri: 'https://rp.example/',
        policy_uri: 'https://rp.example/privacy',
      },
    },
  });
  ({ database: t, kluis } = house);
  web = house.clients.web;
  rp = await RelyingParty.create(kluis.issuer, web);
});
after(() => house?.stop());

/**
 * A person who has been through the first sign-in (activation code, TOTP enrolment on the page, consent to profile
 * and email for the web client); returns the secret enrolled there, whose current 30 s step is now used up.
 */
async function enrolledThroughFirstSignIn(username: string) {
  const person = await addPerson(t.url, username, PASSWORD);
  const browser = new Browser(kluis.issuer);
  const request = await rp.request();
  const { res: login } = await browser.follow(request.url);
  const { secret, continueTo } = await activate(
    browser,
    await login.text(),
    username,
    PASSWORD,
    person.activation_code!,
  );
  const consentPage = await (await browser.follow(continueTo!)).res.text();
  const { external } = await browser.submit(formAction(consentPage, 'consent'), consentPage, {
    scope: ['profile', 'email'],
  });
  assert.ok(external, `${username} consented at the first sign-in`);
  await rp.redeem(external, request);
  return secret;
}

describe('sign-in with strong customer authentication', () => {
  test('first sign-in: password, activation code, TOTP enrolment with QR code and recovery codes, consent, code exchange, ID token and userinfo', async () => {
    const alice = await addPerson(t.url, 'alice', PASSWORD, { email: 'alice@example.com', name: 'Alice Example' });
    const request = await rp.request();
    const browser = new Browser(kluis.issuer);

    const { res: login } = await browser.follow(request.url);
    const loginPage = await login.text();
    assert.match(loginPage, /autocomplete="username"/);
    assert.match(
      loginPage,
      /type="password"[^>]*autocomplete="current-password"|autocomplete="current-password"[^>]*type="password"/,
    );
    assert.match(loginPage, /Budget app/);

    const { res: mfa } = await browser.submit(formAction(loginPage, 'login'), loginPage, {
      username: 'alice',
      password: PASSWORD,
    });
    const mfaPage = await mfa.text();
    assert.match(mfaPage, /activation code you were given/);
    const { res: enrol } = await browser.submit(formAction(mfaPage, 'mfa'), mfaPage, { code: alice.activation_code! });
    const enrolPage = await enrol.text();
    assert.match(enrolPage, /<img src="data:image\/png;base64,/, 'QR code rendered server-side as an inline image');
    const secret = /id="totp-secret" class="secret">([A-Z2-7 ]+)</.exec(enrolPage)![1]!.replaceAll(' ', '');
    assert.match(enrolPage, /autocomplete="one-time-code"/);

    const { res: codesRes } = await browser.submit(formAction(enrolPage, 'enrol'), enrolPage, {
      code: await totpCode(secret),
    });
    const codesPage = await codesRes.text();
    const codes = [...codesPage.matchAll(RECOVERY_CODE)].map((m) => m[1]);
    assert.equal(codes.length, 10, 'ten recovery codes, shown once');
    const continueTo = /id="continue" href="([^"]+)"|href="([^"]+)" id="continue"/.exec(
      codesPage.replace(/<a href="([^"]+)" id="continue"/, '<a id="continue" href="$1"'),
    );
    const next = continueTo![1] ?? continueTo![2];

    const { res: consent } = await browser.follow(next!);
    const consentPage = await consent.text();
    assert.match(consentPage, /Budget app wants to access your account/);
    assert.match(consentPage, /Your name and profile/);
    assert.match(consentPage, /https:\/\/rp.example\/privacy/);

    const { external } = await browser.submit(formAction(consentPage, 'consent'), consentPage, {
      scope: ['profile', 'email'],
    });
    assert.ok(external, 'redirected back to the client');
    assert.equal(external.origin + external.pathname, REDIRECT);
    assert.equal(external.searchParams.get('iss'), kluis.issuer);

    const tokens = await rp.redeem(external, request);
    const claims = tokens.claims()!;
    assert.equal(claims.acr, SCA_ACR);
    assert.deepEqual(claims.amr, ['pwd', 'otp']);
    assert.equal(claims.nonce, request.nonce);
    const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
    assert.equal(userinfo.email, 'alice@example.com');
    assert.equal(userinfo.name, 'Alice Example');
  });

  test('a returning person signs in with password and TOTP; the same code is refused a second time', async () => {
    const secret = await enrolledThroughFirstSignIn('ada');
    const first = new Browser(kluis.issuer);
    const request = await rp.request({ prompt: 'login' });
    const { res } = await first.follow(request.url);
    const code = await totpCode(secret, 1); // the enrolment used the current step; the next one is still within the window
    const { external } = await signIn(first, await res.text(), 'ada', PASSWORD, code);
    assert.ok(external, 'signed in with a fresh code; consent was remembered');
    assert.ok(external.searchParams.get('code'));
    const tokens = await rp.redeem(external, request);
    assert.deepEqual(tokens.claims()!.amr, ['pwd', 'otp']);

    const second = new Browser(kluis.issuer);
    const again = await rp.request();
    const { res: login } = await second.follow(again.url);
    const { res: failed, external: none } = await signIn(second, await login.text(), 'ada', PASSWORD, code);
    assert.equal(none, undefined, 'no code for a replayed TOTP');
    assert.match(await failed.text(), /not correct/);
  });

  test('of 20 parallel redemptions of one authorization code exactly one gets tokens', async () => {
    const trent = await addPerson(t.url, 'trent', PASSWORD, { totp: true });
    const browser = new Browser(kluis.issuer);
    const request = await rp.request();
    const { res } = await browser.follow(request.url);
    const { res: consent } = await signIn(browser, await res.text(), 'trent', PASSWORD, await totpCode(trent.secret!));
    const consentPage = await consent.text();
    const { external } = await browser.submit(formAction(consentPage, 'consent'), consentPage, { scope: ['profile'] });
    assert.ok(external, 'signed in');
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code: external.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: request.verifier,
    });
    const auth = `Basic ${Buffer.from(`${web.client_id}:${web.client_secret}`).toString('base64')}`;
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(new URL('/token', kluis.issuer), {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
          body,
        }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(','));
    assert.ok(statuses.filter((s) => s !== 200).every((s) => s === 400));
  });
});

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import type { Browser as Chromium, Page } from 'playwright-core';
import { SCA_ACR } from '../../src/oidc/provider/sca-policy.ts';
import { launchChromium, noChromium as skip } from '../support/chromium.ts';
import {
  authorizationParameters,
  fapiConfiguration,
  PAYMENT,
  PAYMENTS,
  registerFapiClient,
  type FapiClient,
  PAYMENTS_API,
} from '../support/fapi.ts';
import type { TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { ROOT, type TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { REDIRECT, RelyingParty } from '../support/rp.ts';

// A person in headless Chromium clicks and types through sign-in, TOTP enrolment and consent, then withdraws the
// consent in the account area.
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

let t: TestDatabase;
let kluis: TestKluis;
let rp: RelyingParty;
let browser: Chromium | undefined;
let bank: FapiClient;
let activationCode: string;
let house: KluisFixture<'web', 'victor'>;

before(async () => {
  if (skip) return;
  house = await withKluis({
    resourceServers: [PAYMENTS_API],
    clients: { web: { client_name: 'Savings app', redirect_uris: [REDIRECT], scope: 'openid profile email' } },
    people: { victor: { password: 'victor typed this password', name: 'Victor Browser', email: 'victor@example.com' } },
  });
  ({ database: t, kluis } = house);
  bank = await registerFapiClient(t.url, {
    client_name: 'Pay-by-bank checkout',
    scope: 'openid payments',
    authorization_details_types: ['payment_initiation'],
  });
  activationCode = house.people.victor.activation_code!;
  const web = house.clients.web;
  rp = await RelyingParty.create(kluis.issuer, web as AdapterPayload);
  browser = await launchChromium();
  await mkdir(ARTIFACTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await house?.stop();
});

/**
 * The relying party's redirect URI is not on this machine: the browser's arrival there is caught and answered, and
 * the returned function tells where it arrived (with the code), once it has.
 */
async function atTheApp(page: Page): Promise<() => URL | undefined> {
  let arrived: URL | undefined;
  await page.route('https://rp.example/**', async (route) => {
    arrived = new URL(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/plain', body: 'back at the app' });
  });
  return () => arrived;
}

test('a person signs in with an activation code, enrols an authenticator and consents by clicking and typing', {
  skip,
}, async () => {
  const page = await browser!.newPage();
  const callback = await atTheApp(page);
  const request = await rp.request();
  await page.goto(request.url.toString());

  await page.getByLabel('Username').fill('victor');
  await page.getByLabel('Password').fill('victor typed this password');
  await page.screenshot({ path: path.join(ARTIFACTS, 'login.png'), fullPage: true });
  await page.getByRole('button', { name: 'Continue' }).click();

  // The code page every sign-in shows; a first sign-in takes the activation code the operator handed over.
  await page.getByLabel('Verification, recovery or activation code').fill(activationCode);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor();
  const secret = (await page.locator('#totp-secret').textContent())!.replaceAll(/\s/g, '');
  await page.getByLabel('Code from the app').fill(await totpCode(secret));
  await page.screenshot({ path: path.join(ARTIFACTS, 'mfa-enrolment.png'), fullPage: true });
  await page.getByRole('button', { name: 'Confirm' }).click();

  assert.equal(await page.locator('#recovery-codes li').count(), 10);
  await page.screenshot({ path: path.join(ARTIFACTS, 'recovery-codes.png'), fullPage: true });
  await page.locator('#continue').click();

  await page.getByRole('heading', { name: 'Savings app wants to access your account' }).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'consent.png'), fullPage: true });
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/rp\.example/);

  assert.ok(callback()?.searchParams.get('code'), 'the browser came back to the client with a code');
  const tokens = await rp.redeem(callback()!, request);
  assert.equal(tokens.claims()!.acr, SCA_ACR);
  assert.deepEqual(tokens.claims()!.amr, ['pwd', 'otp']);
  for (const shot of ['login.png', 'mfa-enrolment.png', 'consent.png'])
    assert.ok(existsSync(path.join(ARTIFACTS, shot)));
});

test('a person who consented opens their account, finds the app and withdraws its access by clicking', {
  skip,
}, async () => {
  const valerie = await addPerson(t.url, 'valerie', 'valerie typed this password', { totp: true });
  const context = await browser!.newContext();
  const page = await context.newPage();
  await atTheApp(page);
  const request = await rp.request();
  await page.goto(request.url.toString());
  await page.getByLabel('Username').fill('valerie');
  await page.getByLabel('Password').fill('valerie typed this password');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Code').fill(await totpCode(valerie.secret!));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Savings app wants to access your account' }).waitFor();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/rp\.example/);

  // The SSO session from the sign-in above is fresh: the account area opens without another sign-in.
  await page.goto(`${kluis.issuer}/account`);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'account.png'), fullPage: true });
  await page.getByRole('link', { name: 'Apps with access' }).click();
  await page.getByRole('heading', { name: 'Savings app' }).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'account-consents.png'), fullPage: true });

  await page.getByRole('link', { name: 'Withdraw access' }).click();
  await page.getByRole('heading', { name: "Withdraw Savings app's access?" }).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'account-withdraw.png'), fullPage: true });
  await page.getByRole('button', { name: 'Withdraw access' }).click();

  await page.locator('#flash').waitFor();
  assert.match(
    (await page.locator('#flash').textContent())!,
    /You withdrew Savings app's access\. Its access ended now\./,
  );
  assert.equal(await page.locator('#no-consents').count(), 1);
  await page.screenshot({ path: path.join(ARTIFACTS, 'account-withdrawn.png'), fullPage: true });

  await page.getByRole('link', { name: 'Consent history' }).click();
  assert.equal(await page.locator('.ledger-entry[data-action="revoked"][data-channel="account_area"]').count(), 1);
  await page.screenshot({ path: path.join(ARTIFACTS, 'account-history.png'), fullPage: true });
  await context.close();
  for (const shot of ['account.png', 'account-consents.png', 'account-withdraw.png', 'account-withdrawn.png'])
    assert.ok(existsSync(path.join(ARTIFACTS, shot)));
});

test('on the consent page "Not you?" lets another person sign in; the app gets their code, not the first one\'s', {
  skip,
}, async () => {
  const first = await addPerson(t.url, 'xavier', 'xavier typed this password', { totp: true });
  const second = await addPerson(t.url, 'yara', 'yara typed this password', { totp: true, email: 'yara@example.com' });
  const context = await browser!.newContext();
  const page = await context.newPage();
  const callback = await atTheApp(page);
  const request = await rp.request();
  await page.goto(request.url.toString());
  for (const [person, username] of [
    [first, 'xavier'],
    [second, 'yara'],
  ] as const) {
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(`${username} typed this password`);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Code').fill(await totpCode(person.secret!));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Savings app wants to access your account' }).waitFor();
    assert.match((await page.locator('.signed-in-as').textContent())!, new RegExp(`Signed in as ${username}\\.`));
    // The first time round, this is not xavier's sign-in after all.
    if (username === 'xavier') await page.getByRole('button', { name: 'Sign in as someone else' }).click();
  }
  await page.getByLabel('Your email address').check();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/rp\.example/);
  const tokens = await rp.redeem(callback()!, request);
  const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
  assert.equal(userinfo.email, 'yara@example.com');
  await context.close();
});

test('a person sees the payment while authenticating, authorises it, and finds it in the account area', {
  skip,
}, async () => {
  const wendy = await addPerson(t.url, 'wendy', 'wendy typed this password', { totp: true });
  const config = await fapiConfiguration(kluis.issuer, bank);
  const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
  const payment = { ...PAYMENT, remittanceInformationUnstructured: 'Order 7781' };
  const { verifier, params } = await authorizationParameters({
    scope: 'openid payments',
    resource: PAYMENTS,
    authorization_details: JSON.stringify([payment]),
  });
  const url = await oidc.buildAuthorizationUrlWithPAR(config, params, { DPoP: dpop });

  const context = await browser!.newContext();
  const tab = await context.newPage();
  const callback = await atTheApp(tab);
  await tab.goto(url.toString());
  const summary = 'Pay €50.00 to Acme BV, NL91 ABNA 0417 1643 00';
  assert.equal((await tab.locator('.authorization-detail strong').textContent())!.trim(), summary);
  await tab.getByLabel('Username').fill('wendy');
  await tab.getByLabel('Password').fill('wendy typed this password');
  await tab.getByRole('button', { name: 'Continue' }).click();
  await tab.getByLabel('Code').fill(await totpCode(wendy.secret!));
  assert.equal((await tab.locator('.authorization-detail strong').textContent())!.trim(), summary);
  await tab.getByRole('button', { name: 'Sign in' }).click();

  await tab.getByRole('heading', { name: 'Pay-by-bank checkout asks you to authorise a payment' }).waitFor();
  assert.equal((await tab.locator('.authorization-detail strong').textContent())!.trim(), summary);
  assert.match((await tab.locator('.authorization-detail').textContent())!, /Reference: Order 7781/);
  await tab.screenshot({ path: path.join(ARTIFACTS, 'payment-consent.png'), fullPage: true });
  await tab.getByRole('button', { name: 'Authorise payment' }).click();
  await tab.waitForURL(/rp\.example/);

  const tokens = await oidc.authorizationCodeGrant(
    config,
    callback()!,
    { pkceCodeVerifier: verifier, idTokenExpected: true },
    { resource: PAYMENTS },
    { DPoP: dpop },
  );
  assert.deepEqual(tokens.authorization_details, [payment]);

  // A used one-off payment gives no further access: it is in the history, no longer among the apps with access.
  await tab.goto(`${kluis.issuer}/account/consents`);
  await tab.locator('#no-consents').waitFor();
  await tab.goto(`${kluis.issuer}/account/history`);
  const entry = tab.locator('.ledger-entry').first();
  assert.match((await entry.textContent())!, /access given to\s+Pay-by-bank checkout/);
  // It still says what was paid, and to whom.
  assert.equal((await entry.locator('.authorization-detail strong').textContent())!.trim(), summary);
  assert.match((await entry.locator('.authorization-detail').textContent())!, /Reference: Order 7781/);
  await tab.screenshot({ path: path.join(ARTIFACTS, 'account-payment.png'), fullPage: true });
  await context.close();
  for (const shot of ['payment-consent.png', 'account-payment.png']) assert.ok(existsSync(path.join(ARTIFACTS, shot)));
});

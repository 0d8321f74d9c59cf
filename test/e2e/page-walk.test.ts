import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse, TYPE, type MessageFormatElement } from '@formatjs/icu-messageformat-parser';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import type { Browser as Chromium, Locator, Page } from 'playwright-core';
import { catalogueFile, LANGUAGES, type Language } from '../../src/i18n/catalogues.ts';
import { launchChromium, noChromium as skip } from '../support/chromium.ts';
import type { TestDatabase } from '../support/database.ts';
import {
  authorizationParameters,
  fapiConfiguration,
  PAYMENT,
  PAYMENTS,
  PAYMENTS_API,
  registerFapiClient,
  type FapiClient,
} from '../support/fapi.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { ROOT, type TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { REDIRECT, RelyingParty } from '../support/rp.ts';

// Every page a person can see, in each language at a desktop and a phone size: a full-page screenshot of each under
// test-artifacts/pages/<lang>/<size>/<page>.png, axe-core's WCAG 2.2 A/AA rules, no text left in another language,
// and the operator's brand (name, logo, support contact) with no trace of "Kluis". The demo app's page is included:
// DEMO=on is one variable (the demo person it seeds is not used here).
const PAGES_DIR = path.join(ROOT, 'test-artifacts', 'pages');

const BRAND = {
  BRAND_NAME: 'Zuidbank',
  BRAND_LOGO: path.join(ROOT, 'test', 'support', 'brand', 'logo.svg'),
  // A dark green: 9.1:1 on white, for the white text of filled buttons and for links.
  BRAND_COLOR: '#14532d',
  SUPPORT_EMAIL: 'help@zuidbank.example',
};
const SIZES = [
  { name: '1280x800', width: 1280, height: 800 },
  { name: '390x844', width: 390, height: 844 },
] as const;
const WCAG_22_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** The pages of the walk, in the order a person meets them (the screenshots' file names). */
const PAGES = [
  'landing',
  'not-found',
  'error',
  'demo',
  'login',
  'mfa',
  'login-failed',
  'enrol',
  'recovery-codes',
  'consent',
  'login-payment',
  'payment-consent',
  'account-home',
  'account-consents',
  'account-withdraw',
  'account-history',
  'account-security',
  'account-totp',
  'logout',
  'signed-out',
  'account-login',
  'account-delete',
  'account-deleted',
];
const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', nl: 'Dutch', fr: 'French', de: 'German' };

/** The literal runs of an ICU message outside its `{...}` arguments (plural and select branches included). */
function literalRuns(elements: MessageFormatElement[], runs: string[] = []): string[] {
  let run = '';
  for (const element of elements) {
    if (element.type === TYPE.literal) {
      run += element.value;
      continue;
    }
    runs.push(run);
    run = '';
    if (element.type === TYPE.plural || element.type === TYPE.select) {
      for (const option of Object.values(element.options)) literalRuns(option.value, runs);
    }
  }
  runs.push(run);
  return runs;
}

const normalise = (text: string) => text.replace(/\s+/g, ' ').trim();

/** Each language's distinctive static text: literal runs of at least 12 characters, whitespace collapsed. */
const FRAGMENTS = new Map(
  LANGUAGES.map((language) => {
    const runs = Object.values(catalogueFile(language)).flatMap((message) => literalRuns(parse(message)));
    return [language, new Set(runs.map(normalise).filter((run) => run.length >= 12))];
  }),
);

/** The fragments of other languages' catalogues that a page in `language` must not show. */
function foreignFragments(language: Language): { fragment: string; from: Language }[] {
  const own = FRAGMENTS.get(language)!;
  return LANGUAGES.filter((other) => other !== language).flatMap((from) =>
    [...FRAGMENTS.get(from)!].filter((fragment) => !own.has(fragment)).map((fragment) => ({ fragment, from })),
  );
}

interface Seen {
  lang: string;
  title: string;
  text: string;
  logos: number;
  logoLoaded: boolean;
  supportLinks: number;
  /** Every alt, aria-label and title attribute on the page. */
  labels: string[];
  /** CSS pixels the page is wider than the window: anything above 0 scrolls sideways. */
  overflow: number;
}

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[];
}

let database: TestDatabase;
let kluis: TestKluis;
let house: KluisFixture<'web', never>;
let rp: RelyingParty;
let bank: FapiClient;
let browser: Chromium | undefined;

before(async () => {
  if (skip) return;
  house = await withKluis({
    resourceServers: [PAYMENTS_API],
    clients: { web: { client_name: 'Savings app', redirect_uris: [REDIRECT], scope: 'openid profile email' } },
    env: { ...BRAND, DEMO: 'on' },
  });
  ({ database, kluis } = house);
  bank = await registerFapiClient(database.url, {
    client_name: 'Pay-by-bank checkout',
    scope: 'openid payments',
    authorization_details_types: ['payment_initiation'],
  });
  rp = await RelyingParty.create(kluis.issuer, house.clients.web as AdapterPayload);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await house?.stop();
});

/**
 * One language's walk: each page is looked at in both sizes where it stands (screenshot, axe, language, brand), and
 * every problem is collected, so that one run names all of them.
 */
class Walk {
  readonly problems: string[] = [];
  readonly pages: string[] = [];
  readonly #language: Language;
  readonly #foreign: { fragment: string; from: Language }[];

  constructor(language: Language) {
    this.#language = language;
    this.#foreign = foreignFragments(language);
  }

  async look(page: Page, name: string): Promise<void> {
    await page.waitForLoadState('load');
    this.pages.push(name);
    const where = (size: string) => `${name} [${this.#language}, ${size}]`;
    for (const size of SIZES) {
      await page.setViewportSize({ width: size.width, height: size.height });
      const file = path.join(PAGES_DIR, this.#language, size.name, `${name}.png`);
      await mkdir(path.dirname(file), { recursive: true });
      await page.screenshot({ path: file, fullPage: true });
      for (const violation of await axe(page)) {
        for (const node of violation.nodes) {
          this.problems.push(
            `axe ${violation.id} (${violation.impact}) at ${JSON.stringify(node.target)} on ${where(size.name)}: ${violation.help}`,
          );
        }
      }
      this.#checkText(await seen(page), where(size.name));
    }
    await page.setViewportSize({ width: SIZES[0].width, height: SIZES[0].height });
  }

  #checkText(seen: Seen, where: string): void {
    const { problems } = this;
    // WCAG 1.4.10 Reflow, which axe cannot judge: at 390 px (and 1280) nothing makes the page scroll sideways.
    if (seen.overflow > 0) problems.push(`the page scrolls sideways by ${seen.overflow} px on ${where}`);
    if (seen.lang !== this.#language) problems.push(`<html lang="${seen.lang}"> on ${where}`);
    const visible = normalise(`${seen.title}\n${seen.text}`);
    for (const { fragment, from } of this.#foreign) {
      if (visible.includes(fragment)) problems.push(`${LANGUAGE_NAMES[from]} text "${fragment}" on ${where}`);
    }
    if (!visible.includes(BRAND.BRAND_NAME)) problems.push(`no brand name ${BRAND.BRAND_NAME} on ${where}`);
    if (seen.logos === 0) problems.push(`no logo (/assets/logo) on ${where}`);
    else if (!seen.logoLoaded) problems.push(`the logo did not load on ${where}`);
    if (seen.supportLinks === 0) problems.push(`no support link mailto:${BRAND.SUPPORT_EMAIL} on ${where}`);
    const kluisWord = /\bkluis\b/i;
    if (kluisWord.test(seen.title)) problems.push(`"Kluis" in the title "${seen.title}" on ${where}`);
    for (const line of seen.text.split('\n').filter((l) => kluisWord.test(l)))
      problems.push(`"Kluis" in the text "${normalise(line)}" on ${where}`);
    for (const label of seen.labels.filter((l) => kluisWord.test(l)))
      problems.push(`"Kluis" in an alt, aria-label or title "${label}" on ${where}`);
  }
}

/**
 * axe-core's WCAG 2.2 A/AA rules on the page. Kluis's CSP allows no inline script, so axe's source is evaluated
 * through the DevTools protocol (page.evaluate), which the page's CSP does not govern: no bypassCSP is needed, and
 * the pages are tested under the policy people get.
 */
async function axe(page: Page): Promise<AxeResult['violations']> {
  if (!(await page.evaluate<boolean>("typeof axe !== 'undefined'"))) await page.evaluate(AXE_SOURCE);
  const options = { runOnly: { type: 'tag', values: WCAG_22_AA }, resultTypes: ['violations'] };
  const result = await page.evaluate<AxeResult>(`axe.run(document, ${JSON.stringify(options)})`);
  return result.violations;
}

/**
 * What the page shows, read in the page. A string: the project's TypeScript has no DOM library. innerText is the
 * rendered text people see (hidden markup left out), which is what the language and brand checks are about.
 */
const seenScript = (supportEmail: string) => `(() => {
  const logos = [...document.querySelectorAll('img')].filter(
    (img) => new URL(img.src, location.href).pathname === '/assets/logo',
  );
  return {
    lang: document.documentElement.lang,
    title: document.title,
    text: document.body.innerText,
    logos: logos.length,
    logoLoaded: logos.every((img) => img.complete && img.naturalWidth > 0),
    supportLinks: document.querySelectorAll('a[href="mailto:${supportEmail}"]').length,
    labels: [...document.querySelectorAll('[alt], [aria-label], [title]')].flatMap((element) =>
      ['alt', 'aria-label', 'title'].map((name) => element.getAttribute(name) ?? ''),
    ),
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  };
})()`;

function seen(page: Page): Promise<Seen> {
  return page.evaluate<Seen>(seenScript(BRAND.SUPPORT_EMAIL));
}

/** Username and password on the login page, then on to the code page. */
async function submitPassword(page: Page, username: string, password: string): Promise<void> {
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await page.locator('form[action$="/login"] button[type=submit]').click();
  await page.locator('form[action$="/mfa"]').waitFor();
}

async function submitCode(page: Page, code: string): Promise<void> {
  await page.locator('#code').fill(code);
  await Promise.all([page.waitForNavigation(), page.locator('form[action$="/mfa"] button[type=submit]').click()]);
}

/** A payment authorisation request of the FAPI client (PAR, DPoP), as the browser is sent to it. */
async function paymentRequest(): Promise<string> {
  const config = await fapiConfiguration(kluis.issuer, bank);
  const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
  const { params } = await authorizationParameters({
    scope: 'openid payments',
    resource: PAYMENTS,
    authorization_details: JSON.stringify([{ ...PAYMENT, remittanceInformationUnstructured: 'Order 7781' }]),
  });
  return (await oidc.buildAuthorizationUrlWithPAR(config, params, { DPoP: dpop })).toString();
}

/**
 * The whole walk in one language, in the order a person meets the pages: anonymous pages, a failed sign-in, the
 * first sign-in with an activation code (enrolment, recovery codes, consent), a payment, the account area, signing
 * out, signing in to the account again and deleting it.
 */
async function walk(language: Language): Promise<Walk> {
  const username = `walker-${language}`;
  const password = `${username} typed this password`;
  const person = await addPerson(database.url, username, password, {
    name: 'Walker Pages',
    email: `${username}@example.com`,
  });
  const seen = new Walk(language);
  const context = await browser!.newContext({ viewport: { width: SIZES[0].width, height: SIZES[0].height } });
  try {
    // The relying parties' redirect URI is not on this machine: catch the navigation there.
    await context.route('https://rp.example/**', (route) =>
      route.fulfill({ status: 200, contentType: 'text/plain', body: 'back at the app' }),
    );
    const page = await context.newPage();
    // Clicked first, then awaited: a waitForURL begun before the click let the navigation to rp.example go out
    // unrouted here (net::ERR_NAME_NOT_RESOLVED).
    const backAtTheApp = async (button: Locator) => {
      await button.click();
      await page.waitForURL(/^https:\/\/rp\.example\//);
    };

    // The language switch: ?lang= sets the kluis.lang cookie every later page follows.
    await page.goto(`${kluis.issuer}/?lang=${language}`);
    await seen.look(page, 'landing');
    await page.goto(`${kluis.issuer}/account/nope`);
    await seen.look(page, 'not-found');
    const unknownClient = new URLSearchParams({
      client_id: 'no-such-app',
      response_type: 'code',
      scope: 'openid',
      redirect_uri: REDIRECT,
    });
    await page.goto(`${kluis.issuer}/auth?${unknownClient}`);
    await seen.look(page, 'error');
    await page.goto(`${kluis.issuer}/demo`);
    await seen.look(page, 'demo');

    // A wrong password: the code page comes all the same, then the login page says sign-in failed.
    await page.goto((await rp.request()).url.toString());
    await seen.look(page, 'login');
    await submitPassword(page, username, 'not the password');
    await seen.look(page, 'mfa');
    await submitCode(page, '000000');
    await page.locator('.error[role=alert]').waitFor();
    await seen.look(page, 'login-failed');

    // The first sign-in: the activation code at the code page, then enrolment, recovery codes and consent.
    await submitPassword(page, username, password);
    await submitCode(page, person.activation_code!);
    const secret = (await page.locator('#totp-secret').textContent())!.replaceAll(/\s/g, '');
    await seen.look(page, 'enrol');
    await page.locator('#code').fill(await totpCode(secret));
    await Promise.all([page.waitForNavigation(), page.locator('form[action$="/enrol"] button').click()]);
    const codes = (await page.locator('#recovery-codes li').allTextContents()).map((code) => code.trim());
    assert.equal(codes.length, 10, 'ten recovery codes');
    await seen.look(page, 'recovery-codes');
    await Promise.all([page.waitForNavigation(), page.locator('#continue').click()]);
    await page.locator('form[action$="/consent"]').waitFor();
    await seen.look(page, 'consent');
    await backAtTheApp(page.locator('button[name=decision][value=allow]'));

    // A payment needs its own strong authentication: shown on the login page, authorised on its consent page.
    await page.goto(await paymentRequest());
    await page.locator('form[action$="/login"]').waitFor();
    await seen.look(page, 'login-payment');
    await submitPassword(page, username, password);
    await submitCode(page, codes.pop()!);
    await page.locator('form[action$="/consent"]').waitFor();
    await seen.look(page, 'payment-consent');
    await backAtTheApp(page.locator('button[name=decision][value=allow]'));

    // The account area, opened on the fresh sign-in.
    await page.goto(`${kluis.issuer}/account`);
    await page.locator('#username').waitFor();
    await seen.look(page, 'account-home');
    await page.goto(`${kluis.issuer}/account/consents`);
    await seen.look(page, 'account-consents');
    await Promise.all([page.waitForNavigation(), page.locator('a.revoke').first().click()]);
    await seen.look(page, 'account-withdraw');
    await page.goto(`${kluis.issuer}/account/history`);
    await seen.look(page, 'account-history');
    await page.goto(`${kluis.issuer}/account/security`);
    await seen.look(page, 'account-security');
    await page.locator('#totp-code').fill(codes.pop()!);
    await Promise.all([page.waitForNavigation(), page.locator('form[action="/account/security/totp"] button').click()]);
    await page.locator('#totp-secret').waitFor();
    await seen.look(page, 'account-totp');

    // Signing out, asked first.
    await page.goto(`${kluis.issuer}/session/end`);
    await seen.look(page, 'logout');
    await Promise.all([page.waitForNavigation(), page.locator('button[name=logout][value=yes]').click()]);
    await page.waitForURL(/\/session\/end\/success/);
    await seen.look(page, 'signed-out');

    // The account area's own sign-in, then deleting the account.
    await page.goto(`${kluis.issuer}/account`);
    await page.locator('form[action$="/login"]').waitFor();
    await seen.look(page, 'account-login');
    await submitPassword(page, username, password);
    await submitCode(page, codes.pop()!);
    await page.waitForURL(`${kluis.issuer}/account`);
    await page.goto(`${kluis.issuer}/account/delete`);
    await seen.look(page, 'account-delete');
    await page.locator('#confirm').fill(username);
    await Promise.all([page.waitForURL(/\/account\/deleted$/), page.locator('#confirm-delete').click()]);
    await seen.look(page, 'account-deleted');
  } finally {
    await context.close();
  }
  return seen;
}

for (const language of LANGUAGES) {
  test(`every page in ${LANGUAGE_NAMES[language]} passes axe's WCAG 2.2 AA rules at 1280×800 and 390×844, shows no other language's text and carries the operator's brand, never "Kluis"`, {
    skip,
    timeout: 240_000,
  }, async () => {
    const { problems, pages } = await walk(language);
    assert.deepEqual(pages, PAGES);
    assert.deepEqual(problems, [], `${problems.length} problems:\n${problems.join('\n')}`);
  });
}

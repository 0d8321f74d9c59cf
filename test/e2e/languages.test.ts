import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { catalogueFile, LANGUAGES, type Language } from '../../src/i18n/catalogues.ts';
import { Browser, formAction } from '../support/browser.ts';
import type { TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import type { TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { RelyingParty, signIn } from '../support/rp.ts';

// The language of Kluis's pages over real HTTP: the person's own switch (?lang=, the kluis.lang cookie), then the
// app's ui_locales (OIDC Core 3.1.2.1), then the account's stored locale, then Accept-Language, then DEFAULT_LANGUAGE.
// One Kluis for the file, with German as its default so that "no hint" cannot pass by falling back to English;
// each test that signs in has a person and a browser of its own.
let t: TestDatabase;
let kluis: TestKluis;
let rp: RelyingParty;
let house: KluisFixture<'web', never>;
const PASSWORD = 'pages in your language';
const CLIENT = 'Ledger';

before(async () => {
  house = await withKluis({
    clients: {
      web: { redirect_uris: ['https://rp.example/cb'], scope: 'openid profile email', client_name: CLIENT },
    },
    env: { DEFAULT_LANGUAGE: 'de' },
  });
  ({ database: t, kluis } = house);
  rp = await RelyingParty.create(kluis.issuer, house.clients.web as AdapterPayload);
});
after(() => house?.stop());

const catalogues = Object.fromEntries(LANGUAGES.map((language) => [language, catalogueFile(language)])) as Record<
  Language,
  Record<string, string>
>;
const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '"': '&quot;', "'": '&#39;', '<': '&lt;', '>': '&gt;' };

/** A message of locales/<language>.json with its simple {arguments} filled in, HTML-escaped as the pages write it. */
function message(language: Language, key: string, values: Record<string, string> = {}): string {
  const source = catalogues[language][key];
  assert.ok(source, `locales/${language}.json has ${key}`);
  const text = source.replace(/\{(\w+)\}/g, (_, name: string) => {
    assert.ok(name in values, `${key} needs {${name}}`);
    return values[name]!;
  });
  assert.doesNotMatch(text, /[{}]/, `${key} is a simple message`);
  return text.replace(/[&"'<>]/g, (ch) => HTML_ESCAPES[ch]!);
}

const htmlLang = (page: string) => /<html lang="([^"]*)"/.exec(page)?.[1];
const heading = (page: string) => /<h1>([\s\S]*?)<\/h1>/.exec(page)?.[1];

/** The page is in `language`: `<html lang>` and the heading the catalogue gives for `key`. */
function assertPage(page: string, language: Language, key: string, values: Record<string, string> = {}) {
  assert.equal(htmlLang(page), language, `<html lang> of:\n${page.slice(0, 600)}`);
  assert.equal(heading(page), message(language, key, values));
}

/** The language switch of a page: each link's href (HTML entities undone), language and whether it is current. */
function switchLinks(page: string) {
  const nav = /<nav class="languages"[\s\S]*?<\/nav>/.exec(page)?.[0];
  assert.ok(nav, 'the page has a language switch');
  return [...nav.matchAll(/<a href="([^"]*)" hreflang="([^"]+)"[^>]*?( aria-current="true")?>/g)].map((m) => ({
    href: m[1]!.replaceAll('&amp;', '&'),
    language: m[2]!,
    current: !!m[3],
  }));
}

/** A person of the calling test's own (so no two tests share a TOTP step), with an authenticator and maybe a locale. */
async function newPerson(username: string, locale?: string) {
  const added = await addPerson(t.url, username, PASSWORD, {
    totp: true,
    ...(locale ? { claims: { locale } } : {}),
  });
  return { id: added.id, username, secret: added.secret! };
}

/** Starts an authorization request of the app in `browser`; returns the page Kluis shows and its URL. */
async function authorize(browser: Browser, params: Record<string, string> = {}) {
  const { res, external } = await browser.follow((await rp.request(params)).url);
  assert.equal(external, undefined, 'Kluis shows a page');
  assert.equal(res.status, 200);
  return { page: await res.text(), url: new URL(res.url) };
}

/** Signs `person` in from the login page; returns the consent page that follows and its URL. */
async function toConsent(browser: Browser, loginPage: string, person: Awaited<ReturnType<typeof newPerson>>) {
  const { res, external } = await signIn(browser, loginPage, person.username, PASSWORD, await totpCode(person.secret));
  assert.equal(external, undefined, 'a consent page, not the app');
  const page = await res.text();
  assert.match(page, /action="\/interaction\/[^"]+\/consent"/, `a consent page:\n${page.slice(0, 1500)}`);
  return { page, url: new URL(res.url) };
}

/** A GET without any Accept-Language header (fetch would send `*`). */
function getWithoutHeaders(url: string): Promise<{ status: number; body: string; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers: {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie'] ?? [] }));
    });
    req.on('error', reject);
    req.end();
  });
}

const ENGLISH = { 'accept-language': 'en' };

describe("the app's ui_locales", () => {
  test('ui_locales=nl gives the Dutch sign-in pages although the browser asks for English', async () => {
    const person = await newPerson('nina-ui-locales');
    const browser = new Browser(kluis.issuer, ENGLISH);
    const { page } = await authorize(browser, { ui_locales: 'nl' });
    assertPage(page, 'nl', 'login.headingFor', { client: CLIENT });
    assert.match(page, new RegExp(`<label for="username">${message('nl', 'login.username')}</label>`));
    assert.doesNotMatch(page, new RegExp(message('en', 'login.username')));

    // The second step of the same sign-in is still in the app's language.
    const { res } = await browser.submit(formAction(page, 'login'), page, {
      username: person.username,
      password: PASSWORD,
    });
    assertPage(await res.text(), 'nl', 'mfa.title');
  });

  test('ui_locales="es nl" skips the unsupported Spanish and gives Dutch', async () => {
    const { page } = await authorize(new Browser(kluis.issuer, ENGLISH), { ui_locales: 'es nl' });
    assertPage(page, 'nl', 'login.headingFor', { client: CLIENT });
  });
});

describe("the browser's Accept-Language", () => {
  test("Accept-Language fr-BE,fr;q=0.9 gives French pages, with the account area's dates written for fr-BE", async () => {
    const person = await newPerson('francois-accept');
    const browser = new Browser(kluis.issuer, { 'accept-language': 'fr-BE,fr;q=0.9' });
    const { page } = await authorize(browser);
    assertPage(page, 'fr', 'login.headingFor', { client: CLIENT });
    assert.match(page, new RegExp(`<label for="username">${message('fr', 'login.username')}</label>`));

    // Signed in to the account area: French, and "member since" as fr-BE writes a date (in TIME_ZONE, UTC here).
    const { res: login } = await browser.follow('/account');
    const loginPage = await login.text();
    // The account area's own client has no name of its own: the person signs in to their account with the brand.
    assertPage(loginPage, 'fr', 'login.headingAccount', { brand: 'Kluis' });
    assert.match(loginPage, new RegExp(`<label for="username">${message('fr', 'login.username')}</label>`));
    const { res: home } = await signIn(browser, loginPage, person.username, PASSWORD, await totpCode(person.secret));
    const homePage = await home.text();
    assertPage(homePage, 'fr', 'home.title');
    const { rows } = await t.db.query<{ created_at: Date }>('select created_at from accounts where id = $1', [
      person.id,
    ]);
    const since = new Intl.DateTimeFormat('fr-BE', { dateStyle: 'long', timeZone: 'UTC' }).format(rows[0]!.created_at);
    assert.match(since, /^\d{1,2} \p{L}+\.? \d{4}$/u, 'a French long date, the month in words');
    assert.ok(
      homePage.includes(`<dt>${message('fr', 'home.since')}</dt><dd>${since}</dd>`),
      `"${message('fr', 'home.since')}" ${since} on:\n${homePage}`,
    );
  });
});

describe("the person's stored locale", () => {
  test('a stored locale gives the consent page and the account area in that language, though the browser asks for English', async () => {
    const person = await newPerson('noor-stored', 'nl');
    const browser = new Browser(kluis.issuer, ENGLISH);
    const { page } = await authorize(browser);
    // Before the person is known, the browser's language.
    assertPage(page, 'en', 'login.headingFor', { client: CLIENT });
    const consent = await toConsent(browser, page, person);
    assertPage(consent.page, 'nl', 'consent.heading', { client: CLIENT });
    assert.match(consent.page, new RegExp(`>${message('nl', 'consent.allow')}</button>`));

    const { external } = await browser.submit(formAction(consent.page, 'consent'), consent.page, {
      scope: ['profile'],
    });
    assert.ok(external?.searchParams.get('code'), 'back at the app with a code');
    const { res: home } = await browser.follow('/account');
    assertPage(await home.text(), 'nl', 'home.title');
  });

  test("the app's ui_locales comes before the stored locale", async () => {
    const person = await newPerson('nora-ui-first', 'nl');
    const browser = new Browser(kluis.issuer, ENGLISH);
    const { page } = await authorize(browser, { ui_locales: 'fr' });
    const consent = await toConsent(browser, page, person);
    assertPage(consent.page, 'fr', 'consent.heading', { client: CLIENT });
  });

  test("the person's own switch (?lang=de, remembered in kluis.lang) comes before ui_locales, the stored locale and Accept-Language", async () => {
    const person = await newPerson('nils-switch', 'nl');
    const browser = new Browser(kluis.issuer, ENGLISH);
    const { page } = await authorize(browser, { ui_locales: 'fr' });
    const consent = await toConsent(browser, page, person);
    assertPage(consent.page, 'fr', 'consent.heading', { client: CLIENT });

    const german = switchLinks(consent.page).find((link) => link.language === 'de');
    assert.ok(german, 'a link to the German page');
    const { res } = await browser.follow(new URL(german.href, consent.url));
    const switched = await res.text();
    assertPage(switched, 'de', 'consent.heading', { client: CLIENT });
    assert.equal(browser.cookies.get('kluis.lang'), 'de', 'the choice is remembered');

    const { external } = await browser.submit(formAction(switched, 'consent'), switched, { scope: ['profile'] });
    assert.ok(external?.searchParams.get('code'), 'the German consent page works');
    // Remembered on the pages that follow: the account area, and the next request of an app asking for French.
    const { res: home } = await browser.follow('/account');
    assertPage(await home.text(), 'de', 'home.title');
    const again = await authorize(browser, { ui_locales: 'fr', prompt: 'consent' });
    assertPage(again.page, 'de', 'consent.heading', { client: CLIENT });
  });
});

describe('no hint at all', () => {
  test('without ui_locales, stored locale or a usable Accept-Language the pages are in DEFAULT_LANGUAGE', async () => {
    // fetch sends Accept-Language: *, which names no language.
    const { page } = await authorize(new Browser(kluis.issuer));
    assertPage(page, 'de', 'login.headingFor', { client: CLIENT });
    const unsupported = await authorize(new Browser(kluis.issuer, { 'accept-language': 'es, ja;q=0.5' }));
    assertPage(unsupported.page, 'de', 'login.headingFor', { client: CLIENT });
    // No Accept-Language header at all.
    const landing = await getWithoutHeaders(`${kluis.issuer}/`);
    assert.equal(landing.status, 200);
    assertPage(landing.body, 'de', 'landing.title', { brand: 'Kluis' });
  });

  test('discovery lists ui_locales_supported: en nl fr de', async () => {
    const res = await fetch(`${kluis.issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const discovery = (await res.json()) as { ui_locales_supported?: string[] };
    assert.deepEqual(discovery.ui_locales_supported, ['en', 'nl', 'fr', 'de']);
  });
});

describe('the language switch', () => {
  test('a ?lang= value that is not a supported language is ignored: no cookie, no error', async () => {
    const browser = new Browser(kluis.issuer, { 'accept-language': 'fr' });
    for (const query of ['lang=es', 'lang=NL', 'lang=nl-BE', 'lang=', 'lang=%00', 'lang=de&lang=nl', 'lang[x]=de']) {
      const res = await browser.request(`/?${query}`);
      assert.equal(res.status, 200, query);
      assertPage(await res.text(), 'fr', 'landing.title', { brand: 'Kluis' });
      assert.deepEqual(browser.setCookies, [], `no cookie for ?${query}`);
    }
    // Also on a sign-in page.
    const { page, url } = await authorize(browser);
    assertPage(page, 'fr', 'login.headingFor', { client: CLIENT });
    const login = await browser.request(`${url.pathname}?lang=es`);
    assert.equal(login.status, 200);
    assertPage(await login.text(), 'fr', 'login.headingFor', { client: CLIENT });
    assert.ok(!browser.setCookies.some((line) => line.startsWith('kluis.lang=')), 'no kluis.lang cookie');

    // Nor does it undo an earlier choice.
    await browser.request('/?lang=nl');
    assert.equal(browser.cookies.get('kluis.lang'), 'nl');
    const kept = await browser.request('/?lang=es');
    assertPage(await kept.text(), 'nl', 'landing.title', { brand: 'Kluis' });
    assert.equal(browser.cookies.get('kluis.lang'), 'nl', 'the earlier choice stays');
    assert.ok(!kept.headers.getSetCookie().some((line) => line.startsWith('kluis.lang=')));
  });

  test('the switch links are query-only references, one per language, that keep the query and lead to the same page', async () => {
    const browser = new Browser(kluis.issuer, ENGLISH);
    const { page, url } = await authorize(browser);
    const links = switchLinks(page);
    assert.deepEqual(
      links.map((link) => link.language),
      ['en', 'nl', 'fr', 'de'],
    );
    for (const link of links) assert.ok(link.href.startsWith('?'), `a query-only href: ${link.href}`);
    assert.deepEqual(
      links.filter((link) => link.current).map((link) => link.language),
      ['en'],
    );
    const dutch = new URL(links.find((link) => link.language === 'nl')!.href, url);
    assert.equal(dutch.pathname, url.pathname, 'the same page');
    const { res } = await browser.follow(dutch);
    assertPage(await res.text(), 'nl', 'login.headingFor', { client: CLIENT });

    // A page with a query of its own: the query is kept, an earlier lang replaced, every link still query-only.
    const landing = await (await browser.request('/?lang=fr&from=app')).text();
    const withQuery = switchLinks(landing);
    for (const link of withQuery) {
      assert.ok(link.href.startsWith('?'), `a query-only href: ${link.href}`);
      const params = new URLSearchParams(link.href.slice(1));
      assert.deepEqual(params.getAll('lang'), [link.language]);
      assert.equal(params.get('from'), 'app');
    }
  });
});

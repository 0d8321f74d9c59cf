import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { kluisRefusal, startTestKluis, type TestKluis } from '../support/kluis.ts';
import { tempDir } from '../support/tempdir.ts';

// THEME_DIR: a bank's own templates, stylesheet and wording laid over Kluis's, without forking views/ (issue 16).
let t: TestDatabase;
const themes: { remove(): Promise<void> }[] = [];
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  for (const theme of themes) await theme.remove();
  await t?.drop();
});

/** A theme folder holding `files` (paths relative to it). */
async function theme(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('kluis-theme');
  themes.push(dir);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir.path, file)), { recursive: true });
    await writeFile(path.join(dir.path, file), text);
  }
  return dir.path;
}

describe('a theme folder', () => {
  let kluis: TestKluis;
  before(async () => {
    const dir = await theme({
      'views/shared/landing.njk': `{% extends "shared/layout.njk" %}
{% block content %}<h1 id="bank-landing">{{ t('landing.title', { brand: brand.name }) }}</h1>
<p><a class="button" href="/account">{{ t('landing.account') }}</a></p>{% endblock %}`,
      'styles.css': '.bank-theme-marker { color: rebeccapurple; }',
      'locales/nl.json': JSON.stringify({ 'landing.account': 'Naar Mijn Bank' }),
    });
    kluis = await startTestKluis(t.url, { THEME_DIR: dir, BRAND_NAME: 'De Bank' });
  });
  after(() => kluis?.stop());

  const page = async (pathname: string, language: string) => {
    const res = await fetch(new URL(pathname, kluis.issuer), { headers: { 'accept-language': language } });
    return { status: res.status, html: await res.text() };
  };

  test("replaces the templates it has, and Kluis's own serve the rest", async () => {
    const landing = await page('/', 'en');
    assert.equal(landing.status, 200);
    assert.match(landing.html, /<h1 id="bank-landing">De Bank sign-in<\/h1>/);
    assert.doesNotMatch(landing.html, /Apps use De Bank/, "Kluis's own landing text is gone");
    const missing = await page('/account/no-such-page', 'en');
    assert.equal(missing.status, 404);
    assert.match(missing.html, /<h1>Page not found<\/h1>/, 'a page the theme does not have is Kluis’s');
    assert.match(missing.html, /De Bank/);
  });

  test('its stylesheet is served by Kluis after Kluis’s own, so its rules win', async () => {
    const css = await (await fetch(new URL('/assets/kluis.css', kluis.issuer))).text();
    const own = css.indexOf('.hint');
    const themed = css.indexOf('.bank-theme-marker');
    assert.ok(own >= 0 && themed > own, "the theme's rules come after Kluis's, so they win");
  });

  test('its messages replace only the ones it lists, in their language', async () => {
    const dutch = await page('/', 'nl');
    assert.match(dutch.html, />Naar Mijn Bank</);
    assert.match(dutch.html, /Aanmelden bij De Bank/, 'the messages it does not list are Kluis’s');
    assert.match((await page('/', 'en')).html, />Go to your account</, 'other languages keep theirs');
  });
});

describe('a theme message Kluis cannot use', () => {
  test('a name Kluis has no message for (misspelt, or renamed in an upgrade) stops the start in one line', async () => {
    const dir = await theme({ 'locales/nl.json': JSON.stringify({ 'landing.acount': 'Naar Mijn Bank' }) });
    const { code, output } = await kluisRefusal({ DATABASE_URL: t.url, THEME_DIR: dir });
    assert.equal(code, 1);
    assert.equal(
      output.trim(),
      `kluis: ${path.join(dir, 'locales', 'nl.json')}: "landing.acount" is not one of Kluis's messages (see locales/en.json)`,
    );
  });

  test('a message that is not valid ICU MessageFormat stops the start in one line naming file and key', async () => {
    const dir = await theme({ 'locales/fr.json': JSON.stringify({ 'landing.account': 'Vers {brand' }) });
    const { code, output } = await kluisRefusal({ DATABASE_URL: t.url, THEME_DIR: dir });
    assert.equal(code, 1);
    assert.equal(output.trim().split('\n').length, 1, output);
    assert.match(output, /^kluis: .*fr\.json: message "landing\.account" is not valid ICU MessageFormat/);
  });
});

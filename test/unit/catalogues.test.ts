import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse, TYPE, type MessageFormatElement } from '@formatjs/icu-messageformat-parser';
import { loadConfig } from '../../src/config/env.ts';
import { describe as describeDetail, describeStored } from '../../src/consents/details-wording.ts';
import { Catalogues, catalogueFile, LANGUAGES, type Language } from '../../src/i18n/catalogues.ts';
import { chooseLanguage } from '../../src/i18n/negotiate.ts';
import { Translator } from '../../src/i18n/translator.ts';
import { ACCOUNT_INFORMATION, type AuthorizationDetail } from '../../src/oidc/fapi/authorization-details.ts';

/** The names of a message's arguments (plural branches included), which every translation must keep. */
function argumentsOf(elements: MessageFormatElement[], names = new Set<string>()): Set<string> {
  for (const element of elements) {
    if (element.type === TYPE.argument || element.type === TYPE.number || element.type === TYPE.date)
      names.add(element.value);
    if (element.type === TYPE.plural || element.type === TYPE.select) {
      names.add(element.value);
      for (const option of Object.values(element.options)) argumentsOf(option.value, names);
    }
  }
  return names;
}

describe('message catalogues', () => {
  const english = catalogueFile('en');

  for (const language of LANGUAGES.filter((l) => l !== 'en')) {
    test(`${language} has every message of en, no other, with the same arguments`, () => {
      const other = catalogueFile(language);
      assert.deepEqual(Object.keys(other).sort(), Object.keys(english).sort());
      for (const [key, source] of Object.entries(english)) {
        const expected = [...argumentsOf(parse(source))].sort();
        assert.deepEqual([...argumentsOf(parse(other[key]!))].sort(), expected, `${language} ${key}`);
      }
    });
  }

  test('every security event type the account area shows has its event.* label in every language', () => {
    // The types are a TypeScript union, gone at run time: read them from its declaration.
    const source = readFileSync(new URL('../../src/db/security-events.ts', import.meta.url), 'utf8');
    const union = /export type SecurityEventType =([^;]+);/.exec(source)?.[1];
    assert.ok(union, 'src/db/security-events.ts declares SecurityEventType');
    const types = [...union.matchAll(/\|\s*'([^']+)'/g)].map((m) => m[1]!);
    assert.equal(types.length, union.split('|').filter((part) => part.trim()).length, 'every member read');
    assert.ok(types.includes('login.succeeded') && types.includes('login.failed'), `types read: ${types.join(', ')}`);
    // The security page labels an event with the message 'event.' + its type.
    const view = readFileSync(new URL('../../views/account/security.njk', import.meta.url), 'utf8');
    assert.match(view, /t\('event\.' \+ event\.type\)/);

    for (const language of LANGUAGES) {
      const catalogue = catalogueFile(language);
      const missing = types.filter((type) => !catalogue[`event.${type}`]?.trim());
      assert.deepEqual(missing, [], `locales/${language}.json has no label for these security events`);
    }
    // And no label for a type that no longer exists (which would also mean the union was misread).
    const labelled = Object.keys(english).filter((key) => key.startsWith('event.'));
    assert.deepEqual(labelled.map((key) => key.slice('event.'.length)).sort(), [...types].sort());
  });

  test('DEFAULT_LANGUAGE accepts exactly the languages that have catalogues', () => {
    for (const language of LANGUAGES)
      assert.equal(loadConfig({ DEFAULT_LANGUAGE: language }).brand.defaultLanguage, language);
    assert.throws(
      () => loadConfig({ DEFAULT_LANGUAGE: 'es' }),
      new RegExp(`DEFAULT_LANGUAGE must be one of ${LANGUAGES.join(', ')}`),
    );
  });
});

describe('choosing the language of a page', () => {
  const FOUR = ['en', 'nl', 'fr', 'de'];
  test('ui_locales picks the first supported language, with its region for formatting', () => {
    assert.deepEqual(chooseLanguage({ uiLocales: 'es nl-BE fr', accepted: ['de'] }, FOUR, 'en'), {
      language: 'nl',
      tag: 'nl-BE',
    });
  });
  test('Accept-Language fr-BE gives French with Belgian formatting', () => {
    assert.deepEqual(chooseLanguage({ accepted: ['fr-BE', 'fr', 'en'] }, FOUR, 'en'), { language: 'fr', tag: 'fr-BE' });
  });
  test('the stored locale comes after ui_locales and before Accept-Language', () => {
    assert.equal(chooseLanguage({ stored: 'de', accepted: ['fr'] }, FOUR, 'en').language, 'de');
    assert.equal(chooseLanguage({ uiLocales: 'nl', stored: 'de', accepted: ['fr'] }, FOUR, 'en').language, 'nl');
  });
  test("the person's own choice on a page wins over the app's ui_locales", () => {
    assert.equal(chooseLanguage({ chosen: 'fr', uiLocales: 'nl' }, FOUR, 'en').language, 'fr');
  });
  test('nothing supported, or malformed tags, fall back to the configured default', () => {
    assert.deepEqual(chooseLanguage({ uiLocales: 'es x_$$', accepted: ['*', 'ja'] }, FOUR, 'de'), {
      language: 'de',
      tag: 'de',
    });
  });
});

describe('the wording of what a person authorises', () => {
  const catalogues = new Catalogues();
  const access = (tag: string, language: Language) =>
    describeDetail(
      {
        type: ACCOUNT_INFORMATION,
        accounts: [{ iban: 'DE89370400440532013000' }, { iban: 'NL91ABNA0417164300' }],
        access: ['balances', 'transactions'],
        expiresAt: '2027-03-01',
      } as AuthorizationDetail,
      new Translator(catalogues, language, tag, 'Europe/Brussels'),
    ).summary;

  test('lists of kinds of access and of accounts are joined in the reader’s language', () => {
    assert.equal(
      access('en-GB', 'en'),
      'See the balances and transactions of accounts DE89 3704 0044 0532 0130 00 and NL91 ABNA 0417 1643 00',
    );
    assert.equal(
      access('nl-BE', 'nl'),
      'Inzage in de saldi en transacties van rekeningen DE89 3704 0044 0532 0130 00 en NL91 ABNA 0417 1643 00',
    );
    assert.match(access('fr-BE', 'fr'), / et .* DE89 3704 0044 0532 0130 00 et NL91/);
    assert.match(access('de-DE', 'de'), / und .* DE89 3704 0044 0532 0130 00 und NL91/);
  });

  test('a stored detail Kluis cannot show is named as such instead of failing the page; an ended one is shown', () => {
    const english = new Translator(catalogues, 'en', 'en-GB', 'Europe/Brussels');
    const ended = { type: ACCOUNT_INFORMATION, accounts: [{ iban: 'DE89370400440532013000' }], access: ['balances'] };
    const shown = describeStored(
      [
        { type: 'tax_declaration' },
        { ...ended, access: ['balances', 'standing_orders'], expiresAt: '2026-01-31' },
        { type: ACCOUNT_INFORMATION, access: ['balances'], expiresAt: '2026-01-31' },
        'not even an object',
        { ...ended, expiresAt: '2026-01-31' },
      ],
      english,
    );
    const unreadable = english.t('details.unreadable');
    assert.deepEqual(
      shown.map((detail) => detail.summary),
      [unreadable, unreadable, unreadable, unreadable, 'See the balances of account DE89 3704 0044 0532 0130 00'],
    );
  });
});

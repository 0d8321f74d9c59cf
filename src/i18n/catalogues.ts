import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IntlMessageFormat } from 'intl-messageformat';
import { KluisError } from '../errors.ts';

/**
 * The languages Kluis's pages speak, one catalogue each in `locales/`; English is the reference every other is checked
 * against (test/unit/catalogues.test.ts).
 */
export const LANGUAGES = ['en', 'nl', 'fr', 'de'] as const;
export type Language = (typeof LANGUAGES)[number];

export const LOCALES_DIR = fileURLToPath(new URL('../../locales/', import.meta.url));

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

/** A catalogue file that cannot be used: which file and key, and why. */
/** A catalogue Kluis cannot use: the operator's to fix (a theme's file) or a broken build, said at boot. */
export class CatalogueError extends KluisError {
  override readonly name = 'CatalogueError';
  readonly code = 'ERR_CATALOGUE';
}

function readCatalogue(file: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CatalogueError(`${file} is not a JSON object of messages: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CatalogueError(`${file} is not a JSON object of messages`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') throw new CatalogueError(`${file}: message "${key}" is not a string`);
  }
  return parsed as Record<string, string>;
}

/**
 * The message catalogues (ICU MessageFormat, one JSON file per language in `locales/`), with a theme's own files
 * laid over them (`THEME_DIR/locales/<language>.json`, only the keys it changes). Every message is compiled at boot,
 * so a broken message stops Kluis naming its file and key rather than breaking a page. A key missing from a
 * language falls back to English; the catalogue test fails on it (test/unit/catalogues.test.ts).
 */
export class Catalogues {
  readonly #messages = new Map<Language, Map<string, IntlMessageFormat>>();

  constructor(themeDir?: string) {
    const known = new Set(Object.keys(catalogueFile('en')));
    for (const language of LANGUAGES) {
      const files = [join(LOCALES_DIR, `${language}.json`)];
      const themed = themeDir && join(themeDir, 'locales', `${language}.json`);
      if (themed && existsSync(themed)) files.push(themed);
      const compiled = new Map<string, IntlMessageFormat>();
      for (const file of files) {
        for (const [key, source] of Object.entries(readCatalogue(file))) {
          // A theme's message under a name Kluis does not use (misspelt, or renamed in an upgrade) would be ignored.
          if (!known.has(key)) {
            throw new CatalogueError(`${file}: "${key}" is not one of Kluis's messages (see locales/en.json)`);
          }
          try {
            compiled.set(key, new IntlMessageFormat(source, language));
          } catch (err) {
            throw new CatalogueError(
              `${file}: message "${key}" is not valid ICU MessageFormat: ${(err as Error).message}`,
            );
          }
        }
      }
      this.#messages.set(language, compiled);
    }
  }

  /** The message in `language`, else in English; an unknown key is a programming error. */
  format(language: Language, key: string, values?: Record<string, unknown>): string {
    const message = this.#messages.get(language)!.get(key) ?? this.#messages.get('en')!.get(key);
    if (!message) throw new CatalogueError(`no message "${key}" in locales/en.json`);
    return String(message.format(values as Record<string, string>));
  }

  has(key: string): boolean {
    return this.#messages.get('en')!.has(key);
  }
}

/** The messages of one language file as written (for the catalogue test). */
export function catalogueFile(language: Language, dir = LOCALES_DIR): Record<string, string> {
  return readCatalogue(join(dir, `${language}.json`));
}

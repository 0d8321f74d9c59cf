import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Middleware } from 'koa';
import nunjucks from 'nunjucks';
import type { Brand } from '../config/brand.ts';
import { Catalogues, isLanguage, LANGUAGES } from '../i18n/catalogues.ts';
import { chooseLanguage } from '../i18n/negotiate.ts';
import { Translator } from '../i18n/translator.ts';

const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));
export const LANGUAGE_COOKIE = 'kluis.lang';
/** Each language's name in itself, for the language switch. */
const LANGUAGE_NAMES: Record<string, string> = {
  en: 'English',
  nl: 'Nederlands',
  fr: 'Français',
  de: 'Deutsch',
};

/** What a page's language is told by the code that knows: the app's ui_locales, the person's stored locale and zone. */
export interface PageHints {
  uiLocales?: string | undefined;
  locale?: string | undefined;
  zoneinfo?: string | undefined;
}

function isTimeZone(value: unknown): value is string {
  if (typeof value !== 'string' || !value) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/**
 * Kluis's pages: templates from `views/` (a theme's `views/` first), every value HTML-escaped unless a template says
 * otherwise, in the person's language with the operator's brand. One per running Kluis, reached by every page
 * through `ctx.state.pages` (set first thing by the HTTP pipeline).
 */
export class Pages {
  readonly brand: Brand;
  readonly catalogues: Catalogues;
  /** The stylesheet served at /assets/kluis.css: Kluis's own, the brand's colour, then the theme's. */
  readonly stylesheet: string;
  /** Development: error pages show the protocol detail too, which in production goes to the log only. */
  readonly showDetail: boolean;
  /** The wording of records (the audit log's "what was authorised"): English, formatted the same everywhere. */
  readonly recordTranslator: Translator;
  readonly #env: nunjucks.Environment;

  constructor(brand: Brand, options: { showDetail: boolean }) {
    this.brand = brand;
    this.showDetail = options.showDetail;
    this.catalogues = new Catalogues(brand.themeDir);
    this.recordTranslator = new Translator(this.catalogues, 'en', 'en-GB', 'UTC');
    const dirs = brand.themeDir ? [join(brand.themeDir, 'views'), VIEWS_DIR] : [VIEWS_DIR];
    this.#env = new nunjucks.Environment(new nunjucks.FileSystemLoader(dirs), {
      autoescape: true,
      throwOnUndefined: false,
    });
    const themed = brand.themeDir ? readOptional(join(brand.themeDir, 'styles.css')) : '';
    this.stylesheet = `:root { --primary: ${brand.color}; }\n${readFileSync(join(VIEWS_DIR, 'assets', 'kluis.css'), 'utf8')}\n${themed}`;
  }

  /** The person's language and time zone for this answer (see i18n/negotiate.ts for the order). */
  translator(ctx: Context, hints: PageHints = {}): Translator {
    const state = ctx.state as { language?: string; pageHints?: PageHints };
    const known = { ...state.pageHints, ...hints };
    const oidcParams = (ctx as { oidc?: { params?: Record<string, unknown> } }).oidc?.params;
    const uiLocales =
      known.uiLocales ?? (typeof oidcParams?.ui_locales === 'string' ? oidcParams.ui_locales : undefined);
    const chosen = state.language ?? ctx.cookies.get(LANGUAGE_COOKIE, { signed: false });
    const choice = chooseLanguage(
      {
        chosen: isLanguage(chosen) ? chosen : undefined,
        uiLocales,
        stored: known.locale,
        accepted: ctx.acceptsLanguages(),
      },
      LANGUAGES,
      this.brand.defaultLanguage,
    );
    const zone = isTimeZone(known.zoneinfo) ? known.zoneinfo : this.brand.timeZone;
    return new Translator(this.catalogues, choice.language, choice.tag, zone);
  }

  /** A page's HTML. `hints` adds to what the request already told (`ctx.state.pageHints`). */
  render(ctx: Context, view: string, context: Record<string, unknown>, hints?: PageHints): string {
    const i18n = this.translator(ctx, hints);
    return this.#env.render(`${view}.njk`, {
      ...context,
      i18n,
      t: (key: string, values?: Record<string, unknown>) => i18n.t(key, values),
      lang: i18n.language,
      brand: this.brand,
      // The language switch: links to this page in each language, on pages a GET can show again.
      languages:
        ctx.method === 'GET' && LANGUAGES.length > 1
          ? LANGUAGES.map((language) => ({
              language,
              name: LANGUAGE_NAMES[language],
              current: language === i18n.language,
              href: switchHref(ctx, language),
            }))
          : [],
    });
  }
}

function readOptional(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * This page in another language: a query-only reference, resolved against the page's own URL. Writing the path out
 * would turn a request path such as `//host/x` into a link to another origin.
 */
function switchHref(ctx: Context, language: string): string {
  const query = new URLSearchParams(ctx.querystring);
  query.set('lang', language);
  return `?${query.toString()}`;
}

export function pagesOf(ctx: Context): Pages {
  return ctx.state.pages as Pages;
}

const ONE_YEAR_MS = 365 * 86400 * 1000;

/**
 * First in the pipeline: every answer can render a page (errors included). A page link with `?lang=nl` (the
 * language switch) sets the person's choice, remembered in a cookie for the pages that follow.
 */
export function pageContext(pages: Pages, secure: boolean): Middleware {
  return async (ctx, next) => {
    ctx.state.pages = pages;
    const lang = ctx.query.lang;
    if (isLanguage(lang) && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      ctx.state.language = lang;
      ctx.cookies.set(LANGUAGE_COOKIE, lang, {
        httpOnly: true,
        sameSite: 'lax',
        secure,
        path: '/',
        maxAge: ONE_YEAR_MS,
        overwrite: true,
        signed: false,
      });
    }
    await next();
  };
}

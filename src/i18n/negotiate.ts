/** What a request says about the language a person reads, strongest first (see {@link chooseLanguage}). */
export interface LanguageHints {
  /** The person's own choice on a page (the language switch), remembered in a cookie. */
  chosen?: string | undefined;
  /** The client's `ui_locales` (OIDC Core 3.1.2.1): space-separated BCP 47 tags, preferred first. */
  uiLocales?: string | undefined;
  /** The `locale` stored with the signed-in person's account. */
  stored?: string | undefined;
  /** The browser's Accept-Language ranges, preferred first (as Koa's `ctx.acceptsLanguages()` lists them). */
  accepted?: readonly string[] | undefined;
}

export interface LanguageChoice {
  language: string;
  /** The tag to format numbers and dates with: the fullest one asked for in that language (fr-BE), else the language. */
  tag: string;
}

function primary(tag: string): string {
  return tag.split(/[-_]/)[0]!.toLowerCase();
}

/** A well-formed BCP 47 tag, canonicalised (nl-be → nl-BE), or undefined. */
function canonical(tag: string): string | undefined {
  try {
    return Intl.getCanonicalLocales(tag.replace(/_/g, '-'))[0];
  } catch {
    return undefined;
  }
}

function firstSupported(tags: readonly string[], supported: readonly string[]): string | undefined {
  for (const raw of tags) {
    const tag = canonical(raw);
    if (tag && supported.includes(primary(tag))) return primary(tag);
  }
  return undefined;
}

/**
 * The language of a page: the person's own choice on a page, then the client's `ui_locales`, then the account's
 * stored `locale`, then Accept-Language, then the operator's default. The explicit choice comes first: a person who
 * switched language has said what they read, and an app's hint must not undo it on the next page.
 */
export function chooseLanguage<L extends string>(
  hints: LanguageHints,
  supported: readonly L[],
  fallback: L,
): { language: L; tag: string } {
  const candidates: (readonly string[])[] = [
    hints.chosen ? [hints.chosen] : [],
    hints.uiLocales ? hints.uiLocales.split(' ').filter(Boolean) : [],
    hints.stored ? [hints.stored] : [],
    (hints.accepted ?? []).filter((range) => range !== '*'),
  ];
  const language = (candidates.map((tags) => firstSupported(tags, supported)).find(Boolean) ?? fallback) as L;
  // ui_locales=nl from the app and Accept-Language nl-BE from the browser: Dutch, with Belgian amounts and dates.
  const regional = candidates
    .flat()
    .map((tag) => canonical(tag))
    .find((tag) => tag?.includes('-') && primary(tag) === language);
  return { language, tag: regional ?? language };
}

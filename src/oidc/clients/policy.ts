import { errors } from 'oidc-provider';
import { InvalidRedirectUriMetadata } from '../provider/errors.ts';
import { checkFapiMetadata, FAPI_PROFILE_METADATA } from '../fapi/profile.ts';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const REDIRECT_FIELDS = ['redirect_uris', 'post_logout_redirect_uris'] as const;

/**
 * Kluis's rules for every client, however it is registered (CLI, dynamic registration, RFC 7592 update), on top of
 * oidc-provider's own validation (which already allows only `code`, PKCE S256 and the configured auth methods):
 * - redirect URIs are https; plain http only on a loopback address, for native apps (RFC 8252 7.3), or for any
 *   client while the issuer itself is http (development);
 * - no wildcards (RFC 9700 4.1.3: exact matching only);
 * - a client that may introspect any token must authenticate (a public client could not be trusted with that).
 * Synchronous: oidc-provider runs it inside client validation; the CLI and the registration policy also run it
 * first, before oidc-provider's own checks.
 */
export function checkClientMetadata(metadata: Record<string, unknown>, production: boolean): void {
  const native = metadata.application_type === 'native';
  for (const field of REDIRECT_FIELDS) {
    const uris = metadata[field];
    if (!Array.isArray(uris)) continue;
    for (const uri of uris) {
      if (typeof uri !== 'string') continue; // oidc-provider reports the type error
      if (uri.includes('*')) throw new InvalidRedirectUriMetadata(`${field} must not contain wildcards (${uri})`);
      // Checked here, before oidc-provider derives the pairwise sector from these URLs (which throws a TypeError).
      if (!URL.canParse(uri)) throw new InvalidRedirectUriMetadata(`${field} must be absolute URLs (${uri})`);
      const url = new URL(uri);
      if (url.protocol === 'https:') continue;
      if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname) && (native || !production)) continue;
      throw new InvalidRedirectUriMetadata(
        `${field} must use https; http is allowed only on loopback addresses for native apps (${uri})`,
      );
    }
  }
  // Logout tokens carry the pairwise sub: they go to https endpoints only (loopback http while in development).
  const backchannel = metadata.backchannel_logout_uri;
  if (typeof backchannel === 'string' && URL.canParse(backchannel)) {
    const url = new URL(backchannel);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname) && !production)) {
      throw new errors.InvalidClientMetadata(`backchannel_logout_uri must use https (${backchannel})`);
    }
  }
  if (metadata.introspect_any_token === true && metadata.token_endpoint_auth_method === 'none') {
    throw new errors.InvalidClientMetadata(
      'introspect_any_token requires a client that authenticates (token_endpoint_auth_method other than none)',
    );
  }
  // Payments and account access (rich authorization requests) only ever reach FAPI clients: pushed, authenticated
  // with a key, sender-constrained. A bearer-token client cannot be given them.
  const detailTypes = metadata.authorization_details_types;
  if (Array.isArray(detailTypes) && detailTypes.length && metadata[FAPI_PROFILE_METADATA] === undefined) {
    throw new errors.InvalidClientMetadata(
      `authorization_details_types (payments, account access) are for FAPI 2.0 clients: set ${FAPI_PROFILE_METADATA} to "2.0"`,
    );
  }
  checkFapiMetadata(metadata);
}

/** Metadata only the operator may set (CLI); dynamic registration and software statements are refused it. */
export const OPERATOR_ONLY_METADATA = ['introspect_any_token'];

const NAME_MAX = 100;
const URI_MAX = 2000;
const TEXT_MAX = 255;
const URIS_MAX = 20;
const CONTACTS_MAX = 10;
/**
 * https only with an https issuer: pages shown to people on the consent screen and in the account area (over http
 * anyone on the path could rewrite them) and the client's keys (swapped in transit, anyone could sign as the client).
 */
const HTTPS_IN_PRODUCTION = ['client_uri', 'policy_uri', 'tos_uri', 'logo_uri', 'initiate_login_uri', 'jwks_uri'];
/** Every URL-valued metadata field, capped in length. */
const URI_FIELDS = [...HTTPS_IN_PRODUCTION, 'sector_identifier_uri', 'backchannel_logout_uri'];
const URI_LISTS = ['redirect_uris', 'post_logout_redirect_uris'];
const TEXT_FIELDS = ['software_id', 'software_version'];
/**
 * Characters that are not shown as what they are: controls (Cc), formatting (Cf: bidi overrides, zero-width
 * joiners), line and paragraph separators (Zl, Zp), every default-ignorable code point (variation selectors,
 * combining grapheme joiner; UAX #44) and the Hangul fillers, letters that render blank. Lone surrogates (Cs) are
 * not text at all: PostgreSQL cannot store them.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}\u115F\u1160\u3164\uFFA0]/v;

/**
 * Look-alikes of the letters of "kluis", folded onto them after NFKD (which already maps fullwidth, the Kelvin
 * sign and mathematical letters) and lower-casing: Cyrillic, Greek, Armenian, Cherokee, Lisu, small capitals,
 * digits and symbols (from UTS #39 confusables). l and i are one letter here, because I, l, 1 and | are one shape.
 * Not a full confusables table: enough for the five letters that matter.
 */
const LOOKALIKES: Record<string, string> = Object.fromEntries(
  Object.entries({
    k: 'кκĸᴋᏦꓗꮶ',
    l: 'il1|!¡ǀӏӀιіıɪʟꓡꓲᏞꮮᎥꭵ',
    u: 'υսᴜꓴᑌ',
    s: 'ѕ$5ꜱᏚꓢꮪ',
    o: '0оοօᴏ',
  }).flatMap(([letter, shapes]) => [...shapes].map((shape) => [shape, letter])),
);

/**
 * The product name is Kluis's own: its account area ("Your Kluis account") and demo app ("Kluis demo app") are the
 * only clients named with it, and Kluis writes them itself at start, never through a registration. A registered name
 * with a word starting "Kluis" (ignoring case, accents, look-alike letters and separators such as "K.l.u.i.s")
 * would pass for Kluis on the consent screen, so no registration path accepts it. A word merely ending in it
 * ("Spaarkluis", Dutch for a savings safe) is allowed.
 */
export function imitatesKluis(name: string): boolean {
  const plain = name.normalize('NFKD').replace(/\p{M}/gu, '');
  const folded = [...plain].map((c) => LOOKALIKES[c] ?? LOOKALIKES[c.toLowerCase()] ?? c.toLowerCase()).join('');
  return /(^|[^\p{L}\p{N}])k[^\p{L}\p{N}]*l[^\p{L}\p{N}]*u[^\p{L}\p{N}]*l[^\p{L}\p{N}]*s/u.test(folded);
}

/**
 * What a registrant may write, on every registration path (CLI `clients add` and `update`, dynamic registration,
 * RFC 7592 updates, software statements), on top of {@link checkClientMetadata}:
 * - bounded lengths (a name is shown on the consent screen; nothing is stored at any size a client likes);
 * - no control, formatting or invisible characters in any text ({@link INVISIBLE}: bidi overrides reorder what
 *   the person reads, fillers and ignorables hide what is there);
 * - no name that passes for Kluis itself ({@link imitatesKluis});
 * - with an https issuer, the pages and keys a client points to are https too.
 * It is not run when a stored client is loaded: a client registered before a rule existed keeps working until it is
 * next changed.
 */
export function checkRegistrableMetadata(metadata: Record<string, unknown>, production: boolean): void {
  const fail = (message: string) => new errors.InvalidClientMetadata(message);
  for (const [field, value] of Object.entries(metadata)) {
    const list: unknown[] = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
    const texts = list.filter((text): text is string => typeof text === 'string');
    if (texts.some((text) => INVISIBLE.test(text))) {
      throw fail(`${field} must not contain control, formatting or invisible characters`);
    }
  }
  const name = metadata.client_name;
  if (typeof name === 'string') {
    if ([...name].length > NAME_MAX) throw fail(`client_name must be at most ${NAME_MAX} characters`);
    if (imitatesKluis(name)) throw fail("client_name must not name Kluis: it is reserved for Kluis's own clients");
  }
  for (const field of TEXT_FIELDS) {
    const value = metadata[field];
    if (typeof value === 'string' && value.length > TEXT_MAX) {
      throw fail(`${field} must be at most ${TEXT_MAX} characters`);
    }
  }
  for (const field of URI_FIELDS) {
    const value = metadata[field];
    if (typeof value !== 'string') continue;
    if (value.length > URI_MAX) throw fail(`${field} must be at most ${URI_MAX} characters`);
    const plainHttp = URL.canParse(value) && new URL(value).protocol !== 'https:';
    if (production && HTTPS_IN_PRODUCTION.includes(field) && plainHttp) {
      throw fail(`${field} must use https`);
    }
  }
  for (const field of URI_LISTS) {
    const uris = metadata[field];
    if (!Array.isArray(uris)) continue;
    if (uris.length > URIS_MAX) throw fail(`${field} must list at most ${URIS_MAX} URIs`);
    if (uris.some((uri) => typeof uri === 'string' && uri.length > URI_MAX)) {
      throw fail(`${field} must be at most ${URI_MAX} characters each`);
    }
  }
  const contacts = metadata.contacts;
  const longContact = Array.isArray(contacts) && contacts.some((c) => typeof c === 'string' && c.length > TEXT_MAX);
  if (Array.isArray(contacts) && (contacts.length > CONTACTS_MAX || longContact)) {
    throw fail(`contacts must list at most ${CONTACTS_MAX} addresses of at most ${TEXT_MAX} characters`);
  }
}

import { errors } from 'oidc-provider';
import { InvalidRedirectUriMetadata } from './errors.ts';
import { checkFapiMetadata, FAPI_PROFILE_METADATA } from './fapi.ts';

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
      throw new InvalidRedirectUriMetadata(`${field} must use https; http is allowed only on loopback addresses for native apps (${uri})`);
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
    throw new errors.InvalidClientMetadata('introspect_any_token requires a client that authenticates (token_endpoint_auth_method other than none)');
  }
  // Payments and account access (rich authorization requests) only ever reach FAPI clients: pushed, authenticated
  // with a key, sender-constrained. A bearer-token client cannot be given them.
  const detailTypes = metadata.authorization_details_types;
  if (Array.isArray(detailTypes) && detailTypes.length && metadata[FAPI_PROFILE_METADATA] === undefined) {
    throw new errors.InvalidClientMetadata(`authorization_details_types (payments, account access) are for FAPI 2.0 clients: set ${FAPI_PROFILE_METADATA} to "2.0"`);
  }
  checkFapiMetadata(metadata);
}

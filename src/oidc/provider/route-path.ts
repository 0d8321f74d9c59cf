/**
 * The form of a request path that Kluis's own checks (rate limits, the single use of a request_uri) compare against
 * route patterns. oidc-provider's router and @koa/router match paths case-insensitively and accept a trailing slash
 * (`/AUTH`, `/auth/`, `/interaction/:uid/LOGIN/` reach the same handlers as the canonical paths), so a check made on
 * the raw path could be skipped by writing the path differently. Lower-cased for comparison only: uids in the path
 * are case-sensitive and the routers still receive the path as sent. Every trailing slash is dropped, which covers
 * more forms than the routers accept (they drop one) and so never less. Percent-encoded forms (`/auth%2F`, `/%61uth`)
 * need nothing here: neither router decodes a path before matching, so they reach no handler (404).
 */
export function routePath(path: string): string {
  return (path.replace(/\/+$/, '') || '/').toLowerCase();
}

/**
 * Whether a request runs a GET route: both routers serve every GET route for HEAD as well (the handler runs, only
 * the body is dropped), so a check on GET must hold for HEAD too.
 */
export function readsRoute(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

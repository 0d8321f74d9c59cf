import { readsRoute, routePath } from '../oidc/provider/route-path.ts';

/** The rate-limit counters (RATE_LIMIT_*); logout shares the authorization endpoint's limit. */
export type Bucket = 'login' | 'token' | 'authorize' | 'logout' | 'register';

export interface Endpoint {
  /** As the routers match it: `:name` is one path segment; a trailing `/*` is the path itself and all below it. */
  path: string;
  /** A page people look at (its errors are an HTML page for a browser) or an API (its errors are JSON). */
  kind: 'page' | 'api';
  /** The counter its requests count against, and which methods count (`read-or-post`: GET, HEAD and POST). */
  limit?: { bucket: Bucket; methods: 'post' | 'read-or-post' | 'any' };
  /** The `route` label of the HTTP metrics: `path` unless given (ids never become labels). */
  metric?: string;
  /**
   * `no-store`: a Kluis page with per-person content, never cached. `tokens`: answers carrying tokens or client
   * secrets, which HTTP/1.0 caches must not keep either (`Pragma: no-cache`, RFC 6749 5.1).
   */
  cache?: 'no-store' | 'tokens';
}

const page = (path: string, extra: Partial<Endpoint> = {}): Endpoint => ({
  path,
  kind: 'page',
  cache: 'no-store',
  ...extra,
});
const api = (path: string, extra: Partial<Endpoint> = {}): Endpoint => ({ path, kind: 'api', ...extra });
const signInForm = { limit: { bucket: 'login', methods: 'post' } } as const;
// The account area's forms judge second factors too (re-enrolment, new recovery codes): the sign-in bucket.
const accountForm = signInForm;
const clientEndpoint = { limit: { bucket: 'token', methods: 'post' }, cache: 'tokens' } as const;
// Below Kluis's and oidc-provider's browser routes, an unknown path is still a page (an HTML error) but no route.
const below = (path: string): Endpoint => ({ path: `${path}/*`, kind: 'page', metric: 'other' });

/**
 * Every route Kluis answers, its own and oidc-provider's (the provider's default route paths), in one list read by
 * the metrics, the rate limits, the security headers and the error page. The first entry that matches wins.
 */
export const ENDPOINTS: readonly Endpoint[] = [
  page('/', { cache: undefined }),
  api('/assets/kluis.css'),
  api('/assets/logo'),
  api('/.well-known/openid-configuration'),
  api('/.well-known/oauth-authorization-server'),
  api('/jwks'),
  page('/auth', { limit: { bucket: 'authorize', methods: 'read-or-post' }, cache: undefined }),
  page('/auth/:uid', { cache: undefined }),
  api('/token', clientEndpoint),
  api('/token/introspection', clientEndpoint),
  api('/token/revocation', clientEndpoint),
  api('/request', clientEndpoint),
  api('/me', { cache: 'tokens' }),
  // Registration, and RFC 7592 management of a registration: an update makes Kluis fetch the client's
  // sector_identifier_uri, so it must not be open to unlimited repetition either.
  api('/reg', { limit: { bucket: 'register', methods: 'post' }, cache: 'tokens' }),
  api('/reg/:client_id', { limit: { bucket: 'register', methods: 'any' }, cache: 'tokens' }),
  // RP-initiated logout is open to anyone and stores a session for its confirmation page.
  page('/session/end', { limit: { bucket: 'logout', methods: 'read-or-post' }, cache: undefined }),
  page('/session/end/confirm', { limit: { bucket: 'logout', methods: 'read-or-post' }, cache: undefined }),
  page('/session/end/success', { cache: undefined }),
  api('/healthz', { cache: 'no-store' }),
  api('/readyz', { cache: 'no-store' }),
  page('/interaction/:uid'),
  page('/interaction/:uid/login', signInForm),
  page('/interaction/:uid/mfa', signInForm),
  page('/interaction/:uid/enrol', signInForm),
  page('/interaction/:uid/consent'),
  page('/interaction/:uid/switch'),
  page('/interaction/:uid/cancel'),
  page('/account'),
  page('/account/login'),
  page('/account/callback'),
  page('/account/deleted'),
  page('/account/consents'),
  page('/account/consents/:grant/revoke', accountForm),
  page('/account/history'),
  page('/account/export'),
  page('/account/security'),
  page('/account/security/totp', accountForm),
  page('/account/security/totp/confirm', accountForm),
  page('/account/security/recovery-codes', accountForm),
  page('/account/delete', accountForm),
  page('/demo'),
  page('/demo/login'),
  page('/demo/callback'),
  below('/interaction'),
  below('/account'),
  below('/auth'),
  below('/session'),
  below('/demo'),
];

const compiled = ENDPOINTS.map((endpoint) => {
  const source = endpoint.path
    .replace(/[.]/g, '\\.')
    .replace(/\/\*$/, '(?:/.*)?')
    .replace(/:[a-z_]+/g, '[^/]+');
  return { endpoint, pattern: new RegExp(`^${source}$`) };
});

/**
 * The endpoints of the paths asked for lately (null: none), so that the security headers, the rate limits, the error
 * page and the metrics of a request, and the many requests for a few paths (keys, discovery, token), do not each try
 * the whole catalogue. Bounded: paths with ids in them, or a scanner's, push the oldest out, and long paths (a URL may
 * be kilobytes) are not kept.
 */
const recentPaths = new Map<string, Endpoint | null>();
const RECENT_PATHS = 1000;
const KEPT_PATH_LENGTH = 200;

/**
 * The endpoint a request path reaches, compared in {@link routePath}'s form (every spelling of a route that reaches
 * its handler shares it), or undefined for a path no router serves.
 */
export function endpointAt(path: string): Endpoint | undefined {
  let endpoint = recentPaths.get(path);
  if (endpoint === undefined) {
    const route = routePath(path);
    endpoint = compiled.find(({ pattern }) => pattern.test(route))?.endpoint ?? null;
    if (path.length <= KEPT_PATH_LENGTH) {
      if (recentPaths.size >= RECENT_PATHS) recentPaths.delete(recentPaths.keys().next().value!);
      recentPaths.set(path, endpoint);
    }
  }
  return endpoint ?? undefined;
}

/**
 * Route labels with bounded cardinality: ids in paths (interaction uids, grant ids, client ids) are replaced by
 * placeholders, and anything unknown is "other", so a scanner cannot blow up the time series.
 */
export function metricLabel(path: string): string {
  const endpoint = endpointAt(path);
  return endpoint ? (endpoint.metric ?? endpoint.path) : 'other';
}

/** The rate-limit counter a request counts against, if any. */
export function bucketOf(method: string, path: string): Bucket | undefined {
  const limit = endpointAt(path)?.limit;
  if (!limit) return undefined;
  const counts =
    limit.methods === 'any' || method === 'POST' || (limit.methods === 'read-or-post' && readsRoute(method));
  return counts ? limit.bucket : undefined;
}

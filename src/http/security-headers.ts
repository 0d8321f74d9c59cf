import type { Middleware } from 'koa';
import { endpointAt, type Endpoint } from './endpoints.ts';

/**
 * Headers for every response, the provider's included (OWASP ASVS V3.4; checklist S3): no framing, no
 * MIME sniffing, no referrer leaking codes or state, no resources from anywhere but Kluis itself, and no script:
 * Kluis's pages work without JavaScript. The one script Kluis sends is oidc-provider's form_post auto-submit, on the
 * OAuth 2.0 Form Post Response Mode answer, on the logout of a visitor without a session and on the end of the
 * first person's session after "Not you?" (another account signed in), allowed on exactly those responses by its
 * hash (see {@link scriptHashesOnly}).
 */
const CSP = [
  "default-src 'self'",
  "script-src 'none'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "form-action 'self' https: http:",
  "base-uri 'none'",
].join('; ');

export function securityHeaders(production: boolean): Middleware {
  const always: [string, string][] = [
    ['X-Content-Type-Options', 'nosniff'],
    ['X-Frame-Options', 'DENY'],
    ['Referrer-Policy', 'no-referrer'],
    ['Content-Security-Policy', CSP],
    ['Cross-Origin-Opener-Policy', 'same-origin'],
    // HSTS only makes sense over https; behind a TLS-terminating proxy the proxy may set it too.
    ...(production ? [['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] as [string, string]] : []),
  ];
  // The endpoint catalogue's cache rule: Kluis's own pages are never stored; responses carrying tokens or client
  // secrets must not be cached by HTTP/1.0 caches either (RFC 6749 5.1). One header set per rule, built once.
  const byCache = {
    none: always,
    'no-store': [...always, ['Cache-Control', 'no-store']],
    tokens: [...always, ['Pragma', 'no-cache']],
  } satisfies Record<NonNullable<Endpoint['cache']> | 'none', [string, string][]>;
  return async (ctx, next) => {
    for (const [name, value] of byCache[endpointAt(ctx.path)?.cache ?? 'none']) ctx.set(name, value);
    await next();
  };
}

/**
 * oidc-provider adds the hash of an inline script it renders (the form_post and anonymous-logout pages) to an existing
 * `script-src` directive, which leaves `'none'` next to a hash; CSP's grammar allows `'none'` only alone, so it is
 * dropped there and the page runs exactly its own script. Runs inside oidc-provider's app (provider.use), after its
 * answer is set.
 */
export const scriptHashesOnly: Middleware = async (ctx, next) => {
  await next();
  const csp = ctx.response.get('Content-Security-Policy');
  if (/script-src 'none' 'sha256-/.test(csp))
    ctx.set('Content-Security-Policy', csp.replace("script-src 'none' ", 'script-src '));
};

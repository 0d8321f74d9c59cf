import type { Middleware } from 'koa';

/**
 * Every URL Kluis and oidc-provider build from a request (redirects, resume URLs) uses the issuer's host, whatever
 * Host or X-Forwarded-Host the request carried: a spoofed header can never make Kluis point somewhere else
 * (host header injection, OWASP ASVS 5.0 V4). Only the scheme may come from a trusted proxy (X-Forwarded-Proto,
 * from a peer in TRUSTED_PROXIES), so that Secure cookies work behind TLS termination.
 */
export function canonicalHost(issuer: string): Middleware {
  const host = new URL(issuer).host;
  return async (ctx, next) => {
    ctx.req.headers.host = host;
    delete ctx.req.headers['x-forwarded-host'];
    await next();
  };
}

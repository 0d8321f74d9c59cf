import type { Middleware } from 'koa';

/**
 * Headers for every response, the provider's included (OWASP ASVS V3.4; checklist S3): no framing, no
 * MIME sniffing, no referrer leaking codes or state, and no resources from anywhere but Kluis itself.
 */
const NO_CACHE = /^\/(token(\/introspection|\/revocation)?|request|reg(\/[^/]+)?|me)$/;

export function securityHeaders(production: boolean): Middleware {
  return async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self' https: http:; base-uri 'none'");
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    // HSTS only makes sense over https; behind a TLS-terminating proxy the proxy may set it too.
    if (production) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    // Responses carrying tokens or client secrets must not be cached by HTTP/1.0 caches either (RFC 6749 5.1).
    if (NO_CACHE.test(ctx.path)) ctx.set('Pragma', 'no-cache');
    await next();
  };
}

import { decodeJwt } from 'jose';
import type { Middleware } from 'koa';

/** How far a DPoP proof's `iat` may be from now, in seconds (RFC 9449 11.1: proofs are short-lived). */
export const DPOP_MAX_AGE = 60;

/**
 * oidc-provider checks a proof's `iat` only when the proof carries no server nonce, and its nonces stay valid for
 * about five minutes; a proof signed long before it is sent would then still pass. Kluis also holds proofs with a
 * nonce to a recent `iat`. Only the claim is read here (nothing is trusted from it: a proof that passes still goes
 * through oidc-provider's full validation); a proof that cannot be decoded is left for oidc-provider to refuse.
 */
export function dpopFreshness(clockTolerance: number): Middleware {
  return async (ctx, next) => {
    const proof = ctx.get('dpop');
    if (!proof) return next();
    let iat: unknown;
    try {
      iat = decodeJwt(proof).iat;
    } catch {
      return next();
    }
    if (typeof iat === 'number' && Math.abs(Math.floor(Date.now() / 1000) - iat) <= DPOP_MAX_AGE + clockTolerance)
      return next();
    const description = 'DPoP proof iat is not recent enough';
    ctx.set('Cache-Control', 'no-store');
    if (ctx.get('authorization').toLowerCase().startsWith('dpop ')) {
      // A protected resource (userinfo) answers with a challenge (RFC 9449 7.1).
      ctx.status = 401;
      ctx.set('WWW-Authenticate', `DPoP error="invalid_dpop_proof", error_description="${description}"`);
      return;
    }
    ctx.status = 400;
    ctx.body = { error: 'invalid_dpop_proof', error_description: description };
  };
}

import { errors, type KoaContextWithOIDC } from 'oidc-provider';

/**
 * Kluis's checks of a client assertion (RFC 7523) after oidc-provider verified its signature, `exp`, `iss`, `aud` and
 * `jti`. This replaces oidc-provider's own hook, so its FAPI rule is kept here:
 * - FAPI 2.0 SP 5.3.2.1: a FAPI client's assertion is addressed to the issuer itself, not an endpoint URL;
 * - an assertion must not claim to be issued (`iat`) or valid (`nbf`) in the future: oidc-provider only checks a
 *   future `iat` when there is no `exp`, and assertions always carry one.
 */
export function clientAssertionPolicy(clockTolerance: number) {
  return async (ctx: KoaContextWithOIDC, claims: Record<string, unknown>) => {
    if (ctx.oidc.isFapi('2.0') && claims.aud !== ctx.oidc.issuer) {
      throw new errors.InvalidClientAuth('audience (aud) must equal the issuer identifier url');
    }
    const now = Math.floor(Date.now() / 1000);
    for (const claim of ['iat', 'nbf']) {
      const value = claims[claim];
      if (value !== undefined && (typeof value !== 'number' || value > now + clockTolerance)) {
        throw new errors.InvalidClientAuth(`client assertion ${claim} must not be in the future`);
      }
    }
  };
}

/**
 * Protocol constants that more than one layer needs (configuration bounds, the provider, client registration, the
 * CLI, storage). They live here, below every layer, so that each imports the one definition.
 */

/** Seconds of clock skew allowed between Kluis and its clients for JWT times (RFC 9700 keeps it small). */
export const CLOCK_TOLERANCE = 5;

/**
 * Signing algorithms Kluis offers (FAPI 2.0 Security Profile 5.4: PS256, ES256, EdDSA).
 * RS256, HS256 and `none` are never enabled.
 */
export const SIGNING_ALGS = ['ES256', 'PS256', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export function isSigningAlg(alg: string): alg is SigningAlg {
  return (SIGNING_ALGS as readonly string[]).includes(alg);
}

/** ID tokens live one hour (oidc-provider's default); retired keys must outlive every token they signed. */
export const ID_TOKEN_TTL = 3600;

/**
 * Seconds an access token may live: ACCESS_TOKEN_TTL, JWT_ACCESS_TOKEN_TTL and a resource server's own lifetime
 * (the `resource_servers.access_token_ttl` check in migrations/0001_init.sql holds the same bounds). FAPI 2.0 and
 * RFC 9700 keep bearer tokens short.
 */
export const ACCESS_TOKEN_TTL_BOUNDS = { min: 30, max: 600 } as const;

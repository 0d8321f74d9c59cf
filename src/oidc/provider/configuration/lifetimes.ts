import type { Configuration, KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import type { Config } from '../../../config/env.ts';
import { ID_TOKEN_TTL } from '../../../config/protocol-constants.ts';
import { grantLifetime, type AuthorizationDetail } from '../../fapi/authorization-details.ts';

/** Seconds a session without a signed-in account is kept. */
export const ACCOUNTLESS_SESSION_TTL = 600;

type TokenTtls = Pick<Config, 'accessTokenTtl' | 'jwtAccessTokenTtl'>;

/** The longest an access token of `format` may live. */
export function accessTokenCeiling(config: TokenTtls): (format: string | undefined) => number {
  const max = config.accessTokenTtl;
  // A JWT access token outlives a withdrawn consent (it cannot be recalled), so it is kept shorter.
  return (format) => (format === 'jwt' ? Math.min(config.jwtAccessTokenTtl, max) : max);
}

/** How long each kind of token, code, session and grant lives (seconds). */
export function lifetimes(config: TokenTtls & Pick<Config, 'registration'>): Configuration {
  const maxAccessTokenTtl = config.accessTokenTtl;
  const ceiling = accessTokenCeiling(config);
  const accessTokenTtl = (_ctx: KoaContextWithOIDC, token: { resourceServer?: ResourceServer }) => {
    const max = ceiling(token.resourceServer?.accessTokenFormat);
    return Math.min(token.resourceServer?.accessTokenTTL ?? max, max);
  };
  const detailsOf = (model: { rar?: unknown }) => (model.rar ?? []) as AuthorizationDetail[];
  return {
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: ID_TOKEN_TTL,
      Interaction: 600,
      DeviceCode: 600,
      BackchannelAuthenticationRequest: 600,
      // Account access lasts until the date the person agreed to (a FAPI refresh token is never rotated, so its own
      // lifetime is the access's); other refresh tokens 30 days.
      RefreshToken: (_ctx, token) => grantLifetime(detailsOf(token), maxAccessTokenTtl) ?? 30 * 86400,
      // A session nobody signed in to (an anonymous visit to /session/end, an abandoned sign-in) holds nothing worth
      // keeping: it lives ten minutes, so anonymous requests cannot fill the table; signing in saves it again, longer.
      Session: (_ctx, session) => (session.accountId ? 14 * 86400 : ACCOUNTLESS_SESSION_TTL),
      // A leaked registration access token reads and rewrites its client (RFC 7592 3): it expires, and every update
      // replaces it with a new one of the full lifetime.
      RegistrationAccessToken: config.registration.accessTokenTtl,
      // A payment consent lasts as long as its access token; account access until the date the person agreed to.
      Grant: (_ctx, grant) => grantLifetime(detailsOf(grant), maxAccessTokenTtl) ?? 180 * 86400,
    },
  };
}

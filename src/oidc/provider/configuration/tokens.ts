import type { Configuration, FindAccount } from 'oidc-provider';
import { isPayment } from '../../fapi/authorization-details.ts';
import { rotateRefreshToken } from '../../fapi/profile.ts';

/** The token endpoint's grants, and what clients may learn about and do with tokens (userinfo, RFC 7662, 7009). */
export function tokens(findAccount: FindAccount): Configuration {
  return {
    // Every refresh rotates the refresh token, except a FAPI client's (fapi/profile.ts); redeeming is one atomic
    // consume: of parallel refreshes with one token exactly one succeeds, and a stolen, already-used token is refused
    // (RFC 9700 4.14.2).
    rotateRefreshToken,
    // A payment is authorised once: its code yields one access token and no refresh token (RTS Art 5).
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') &&
      code.scopes.has('offline_access') &&
      !isPayment((code as { rar?: unknown[] }).rar),
    features: {
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      introspection: {
        enabled: true,
        async allowedPolicy(ctx, client, token) {
          // A person's token is inactive once the account is disabled or erased, as userinfo and refresh treat it.
          if ('accountId' in token && token.accountId && !(await findAccount(ctx, token.accountId))) return false;
          if (token.clientId === client.clientId) return true;
          if ((client as unknown as { introspect_any_token?: boolean }).introspect_any_token !== true) return false;
          // A token of a disabled or removed client is inactive (`clients disable` stops its tokens at once).
          return token.clientId !== undefined && (await ctx.oidc.provider.Client.find(token.clientId)) !== undefined;
        },
      },
      revocation: {
        enabled: true,
        // Another client's token is left alone and the answer is the same 200 (RFC 7009 2.2), so nothing leaks.
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
    },
  };
}

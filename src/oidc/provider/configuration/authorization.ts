import type { Configuration } from 'oidc-provider';
import type { Config } from '../../../config/env.ts';
import { SCA_ACR, scaPolicy } from '../sca-policy.ts';

/** The authorization endpoint: which requests it takes and how a person is asked (Kluis's interaction pages). */
export function authorization(config: Pick<Config, 'sca'>, resourceScopes: string[]): Configuration {
  return {
    // Only the authorization code flow (RFC 9700 2.1.2: no implicit, no hybrid, no password grant).
    responseTypes: ['code'],
    // PKCE S256 for every client, public or confidential (RFC 9700 2.1.1).
    pkce: { required: () => true },
    allowOmittingSingleRegisteredRedirectUri: false,
    scopes: ['openid', 'offline_access', 'profile', 'email', 'phone', ...resourceScopes],
    acrValues: [SCA_ACR],
    interactions: {
      policy: scaPolicy(config.sca.maxAge),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    features: { devInteractions: { enabled: false } },
  };
}

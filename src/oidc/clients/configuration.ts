import { errors, type Configuration } from 'oidc-provider';
import type { Config } from '../../config/env.ts';
import type { Database } from '../../db/database.ts';
import type { SecretBox } from '../../secrets/secret-box.ts';
import { FAPI_PROFILE_METADATA } from '../fapi/profile.ts';
import { checkClientMetadata } from './policy.ts';
import { registrationFeatures, type NewClients } from './registration.ts';

/**
 * Client metadata Kluis adds to RFC 7591's: `introspect_any_token` marks a resource server's client, which may
 * introspect tokens issued to other clients. Every other client only learns about its own tokens (RFC 7662 4).
 */
export const EXTRA_CLIENT_METADATA = [
  'introspect_any_token',
  FAPI_PROFILE_METADATA,
  'software_statement',
  'software_id',
  'software_version',
];

const unguardedFetch = (url: string | URL | Request, options?: RequestInit) =>
  fetch(url, { ...options, dispatcher: undefined } as RequestInit);

type ClientSettings = Pick<Config, 'production' | 'mtlsCertificateHeader' | 'registration'>;

/** What a client is: its defaults, how it authenticates, the metadata it may have, and how it registers itself. */
export function clients(config: ClientSettings, db: Database, box: SecretBox, newClients: NewClients): Configuration {
  const mtls = config.mtlsCertificateHeader ? ['self_signed_tls_client_auth' as const] : [];
  return {
    // oidc-provider's outbound calls (back-channel logout, remote client JWKS) refuse special-use addresses. In
    // development (http issuer) a developer's loopback services are allowed, as for redirect URIs.
    ...(config.production ? {} : { fetch: unguardedFetch }),
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
      // JARM responses (response_mode=jwt) are signed like ID tokens; oidc-provider's default, RS256, is not offered.
      authorization_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
      subject_type: 'pairwise',
      // oidc-provider lets a client without `scope` metadata ask for any known scope; an API's scopes must be
      // granted to a client explicitly.
      scope: 'openid offline_access',
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none', ...mtls],
    extraClientMetadata: {
      properties: EXTRA_CLIENT_METADATA,
      validator(_ctx, key, value, metadata) {
        if (key === 'introspect_any_token' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('introspect_any_token must be a boolean');
        }
        if (key !== 'introspect_any_token' && value !== undefined && typeof value !== 'string') {
          throw new errors.InvalidClientMetadata(`${key} must be a string`);
        }
        // Called once per extra property; the whole-client rules run once, with the first.
        if (key !== EXTRA_CLIENT_METADATA[0]) return;
        checkClientMetadata(metadata as Record<string, unknown>, config.production);
      },
    },
    features: registrationFeatures(config, db, box, newClients),
  };
}

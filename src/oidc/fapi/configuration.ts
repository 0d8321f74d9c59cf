import type { Configuration } from 'oidc-provider';
import type { Config } from '../../config/env.ts';
import type { ServerSecrets } from '../../secrets/server-secrets.ts';
import { richAuthorizationRequests } from './authorization-details.ts';
import { mtlsFeature } from './mtls.ts';
import { fapiFeatures } from './profile.ts';

/** FAPI 2.0 and open banking: the profile's features, mutual TLS, and payment and account authorization details. */
export function fapi(
  config: Pick<Config, 'mtlsCertificateHeader'>,
  secrets: Pick<ServerSecrets, 'dpopNonceSecret'>,
): Configuration {
  return {
    features: {
      ...fapiFeatures(secrets.dpopNonceSecret),
      ...mtlsFeature(config.mtlsCertificateHeader),
      richAuthorizationRequests: richAuthorizationRequests(),
    },
  };
}

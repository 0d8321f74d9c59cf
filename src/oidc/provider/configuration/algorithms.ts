import type { Configuration } from 'oidc-provider';
import { CLOCK_TOLERANCE, SIGNING_ALGS } from '../../../config/protocol-constants.ts';
import { clientAssertionPolicy } from '../../fapi/client-assertions.ts';

const algs = [...SIGNING_ALGS];

/** Signatures and JWT times. */
export function algorithms(): Configuration {
  return {
    clockTolerance: CLOCK_TOLERANCE,
    assertJwtClientAuthClaimsAndHeader: clientAssertionPolicy(CLOCK_TOLERANCE),
    // Asymmetric algorithms only: no `none`, no HS256 (shared secrets), no RS256 (PKCS#1 v1.5).
    enabledJWA: {
      idTokenSigningAlgValues: algs,
      userinfoSigningAlgValues: algs,
      introspectionSigningAlgValues: algs,
      authorizationSigningAlgValues: algs,
      requestObjectSigningAlgValues: algs,
      clientAuthSigningAlgValues: algs,
      dPoPSigningAlgValues: algs,
    },
  };
}

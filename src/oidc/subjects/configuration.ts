import type { Configuration, FindAccount } from 'oidc-provider';
import type { ServerSecrets } from '../../secrets/server-secrets.ts';
import { CLAIMS } from './claims.ts';
import { pairwiseSubject } from './pairwise.ts';

/** Who a person is to each client: the subject identifier and the claims released with it. */
export function subjects(secrets: Pick<ServerSecrets, 'pairwiseSalt'>, findAccount: FindAccount): Configuration {
  return {
    claims: CLAIMS,
    findAccount,
    // Pairwise by default (OIDC Core 8.1): `public` only for first-party clients the operator registers as such.
    subjectTypes: ['public', 'pairwise'],
    pairwiseIdentifier: pairwiseSubject(secrets.pairwiseSalt),
    // Kluis checks sector_identifier_uri itself (sector-identifier.ts), on the CLI path as well as registration.
    sectorIdentifierUriValidate: () => false,
  };
}

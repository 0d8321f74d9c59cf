import type { AdapterPayload } from 'oidc-provider';
import type { Database } from '../../db/database.ts';
import type { SecretBox } from '../../secrets/secret-box.ts';
import { writeManagedClient, type HasProvider } from './managed-clients.ts';

/**
 * Kluis's own first-party client: the account area signs people in through the same authorization endpoint and
 * SCA as every other client (like Keycloak's account console). It never receives a consent screen and is not a
 * consent the person gave, so the account area does not list it.
 */
export const ACCOUNT_CLIENT_ID = 'kluis-account';

/**
 * The client as a page names it ("… asks to sign you out", "Sign in to continue to …"): none for the account area's
 * own client, which is not an app; its built-in name is neither translated nor the operator's brand.
 */
export function appToName<T extends { clientId: string }>(client: T | undefined): T | undefined {
  return client?.clientId === ACCOUNT_CLIENT_ID ? undefined : client;
}

export function accountCallbackUri(issuer: string): string {
  return `${issuer}/account/callback`;
}

/** Written at every start so the redirect URI follows ISSUER; validated by oidc-provider like any client. */
export async function ensureAccountClient(host: HasProvider, db: Database, box: SecretBox, issuer: string) {
  const metadata: AdapterPayload = {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'Your Kluis account',
    redirect_uris: [accountCallbackUri(issuer)],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    // The code is redeemed inside Kluis (PKCE-bound); no secret exists to leak.
    token_endpoint_auth_method: 'none',
    subject_type: 'public',
    scope: 'openid',
  };
  await writeManagedClient(host, db, box, metadata);
}

import { ACCOUNT_CLIENT_ID } from '../oidc/clients/account-client.ts';

export const DEMO_CLIENT_ID = 'kluis-demo';

/** Kluis's own clients (the account area, the demo app): Kluis writes them at every start, the operator does not. */
export const KLUIS_CLIENT_IDS: readonly string[] = [ACCOUNT_CLIENT_ID, DEMO_CLIENT_ID];

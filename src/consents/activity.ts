import type { Database } from '../db/database.ts';
import { type GrantStore, PgGrantStore } from '../db/grants.ts';
import { ACCOUNT_CLIENT_ID } from '../oidc/clients/account-client.ts';

/**
 * What oidc-provider's events tell about consents: when a grant was last used (and how long JWT access tokens issued
 * under it live), and grants a client gave up itself (RFC 7009 revocation of its refresh token).
 */
export class GrantActivity {
  readonly #grants: GrantStore;

  constructor(db: Database) {
    this.#grants = new PgGrantStore(db);
  }

  tokenIssued(grantId: string, jwtAccessUntil: Date | null): Promise<void> {
    return this.#grants.recordUse(grantId, jwtAccessUntil);
  }

  async revokedByClient(revoked: {
    accountId: string;
    clientId: string;
    clientName: string | null;
    grantId: string;
    scope: string;
  }): Promise<void> {
    if (revoked.clientId === ACCOUNT_CLIENT_ID) return;
    await this.#grants.appendLedger({
      accountId: revoked.accountId,
      clientId: revoked.clientId,
      clientName: revoked.clientName,
      grantId: revoked.grantId,
      action: 'revoked',
      channel: 'client',
      scopes: revoked.scope.split(' ').filter(Boolean),
      claims: [],
      resources: {},
      // What the grant authorised is in its 'granted' entry (consents.ts writes none with a withdrawal either).
      authorizationDetails: [],
    });
  }
}

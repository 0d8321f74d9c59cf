import type { Queryable } from './database.ts';

export type LedgerAction = 'granted' | 'changed' | 'revoked';
export type LedgerChannel = 'consent_screen' | 'account_area' | 'operator' | 'client' | 'account_deletion';

export interface LedgerEntry {
  accountId: string;
  clientId: string;
  clientName: string | null;
  grantId: string;
  action: LedgerAction;
  channel: LedgerChannel;
  scopes: string[];
  claims: string[];
  resources: Record<string, string[]>;
  /** Open banking authorization details (RFC 9396) the consent authorised; none for other consents. */
  authorizationDetails: Record<string, unknown>[];
}

export interface LedgerRow extends LedgerEntry {
  occurredAt: Date;
}

/** Appends one entry, on the pool or inside a transaction (a withdrawal's, see db/grants.ts). */
export async function appendLedger(db: Queryable, entry: LedgerEntry): Promise<void> {
  await db.query(
    `insert into consent_ledger
       (account_id, client_id, client_name, grant_id, action, channel, scopes, claims, resources, authorization_details)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      entry.accountId,
      entry.clientId,
      entry.clientName,
      entry.grantId,
      entry.action,
      entry.channel,
      entry.scopes,
      entry.claims,
      entry.resources,
      JSON.stringify(entry.authorizationDetails),
    ],
  );
}

/** The person's consent history, newest first. */
export async function ledgerFor(db: Queryable, accountId: string): Promise<LedgerRow[]> {
  const { rows } = await db.query<{
    occurred_at: Date;
    account_id: string;
    client_id: string;
    client_name: string | null;
    grant_id: string;
    action: LedgerAction;
    channel: LedgerChannel;
    scopes: string[];
    claims: string[];
    resources: Record<string, string[]>;
    authorization_details: Record<string, unknown>[];
  }>('select * from consent_ledger where account_id = $1 order by id desc', [accountId]);
  return rows.map((row) => ({
    occurredAt: row.occurred_at,
    accountId: row.account_id,
    clientId: row.client_id,
    clientName: row.client_name,
    grantId: row.grant_id,
    action: row.action,
    channel: row.channel,
    scopes: row.scopes,
    claims: row.claims,
    resources: row.resources,
    authorizationDetails: row.authorization_details,
  }));
}

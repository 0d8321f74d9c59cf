import type { AuditLog } from '../audit/writer.ts';
import type { Config } from '../config/env.ts';
import type { Consents } from '../consents/consents.ts';
import type { AccountRecord, AccountRecords, AccountStore } from '../db/account-store.ts';
import type { Database } from '../db/database.ts';
import type { ServerSecrets } from '../secrets/server-secrets.ts';
import { UserNotFound } from './errors.ts';

/** What the commands about people work with; each command takes only the part it uses. */
export interface PeopleDeps {
  db: Database;
  accounts: AccountStore;
  secrets: Pick<ServerSecrets, 'box' | 'pairwiseSalt'>;
  audit: AuditLog;
  /** Withdraws consents with the ledger, the audit log and back-channel logout (consents/consents.ts). */
  consents: Consents;
  config: Pick<Config, 'issuer' | 'sca' | 'usernameQuarantine' | 'brand'>;
}

/** The operator names people by username. */
export async function personNamed(
  accounts: Pick<AccountRecords, 'findByUsername'>,
  username: string,
): Promise<AccountRecord> {
  const account = await accounts.findByUsername(username);
  if (!account) throw new UserNotFound(username);
  return account;
}

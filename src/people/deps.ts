import type { AuditLog } from '../audit/writer.ts';
import type { Config } from '../config/env.ts';
import type { Consents } from '../consents/consents.ts';
import { findAccountByUsername, type AccountRecord } from '../db/accounts.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { ServerSecrets } from '../secrets/server-secrets.ts';
import { UserNotFound } from './errors.ts';

/** What the commands about people work with; each command takes only the part it uses. */
export interface PeopleDeps {
  db: Database;
  secrets: Pick<ServerSecrets, 'box' | 'pairwiseSalt'>;
  audit: AuditLog;
  /** Withdraws consents with the ledger, the audit log and back-channel logout (consents/consents.ts). */
  consents: Consents;
  config: Pick<Config, 'issuer' | 'sca' | 'usernameQuarantine'>;
}

/** The operator names people by username. */
export async function personNamed(db: Queryable, username: string): Promise<AccountRecord> {
  const account = await findAccountByUsername(db, username);
  if (!account) throw new UserNotFound(username);
  return account;
}

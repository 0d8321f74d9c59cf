import { createHmac } from 'node:crypto';
import type { AuditLog } from '../audit/writer.ts';
import type { Consents } from '../consents/consents.ts';
import type { AccountRecords } from '../db/account-store.ts';
import type { Database } from '../db/database.ts';
import { eraseAccountRows } from '../db/account-erasure.ts';
import { personNamed, type PeopleDeps } from './deps.ts';

/**
 * A keyed hash of a username (case-insensitive), so a retired name can be recognised without keeping it: after
 * erasure nothing in the database says which username the person had.
 */
export function usernameHash(salt: string, username: string): string {
  return createHmac('sha256', salt).update(`retired-username:${username.toLowerCase()}`).digest('base64url');
}

/**
 * GDPR Art 17: erases a person. Every consent is revoked first (clients with a back-channel logout URI are told),
 * then, in one transaction, everything that holds personal data goes: sessions, tokens, grants and interactions that
 * name the account, the account itself (credentials, profile claims, recovery codes and security activity cascade).
 * What stays names the person only by the random account id: the audit log and the consent ledger. They keep what open
 * banking consents authorised (amount, payee, the person's IBANs), the record of an authorisation PSD2 Art 72 obliges
 * the bank to keep (GDPR Art 17(3)(b)). The username is held back for USERNAME_QUARANTINE so nobody can take it over
 * at once.
 */
export async function eraseAccount(
  deps: {
    db: Database;
    accounts: Pick<AccountRecords, 'findById'>;
    consents: Consents;
    audit: AuditLog;
    salt: string;
    quarantineSeconds: number;
  },
  accountId: string,
  actor: 'person' | 'operator',
): Promise<void> {
  const account = await deps.accounts.findById(accountId);
  if (!account) return;
  await deps.consents.revokeAll(
    accountId,
    actor === 'operator' ? { channel: 'operator' } : { channel: 'account_deletion', accountId },
  );
  await eraseAccountRows(deps.db, accountId, {
    usernameHash: usernameHash(deps.salt, account.username),
    quarantineSeconds: deps.quarantineSeconds,
  });
  await deps.audit.record({
    type: 'account.deleted',
    actor: actor === 'operator' ? 'operator' : `account:${accountId}`,
    accountId,
    details: { quarantine_seconds: deps.quarantineSeconds },
  });
}

/** The operator's `users delete USERNAME`: an erasure request (GDPR Art 17), same effect as the person's own. */
export async function erasePerson({ db, accounts, consents, audit, secrets, config }: PeopleDeps, username: string) {
  const { id } = await personNamed(accounts, username);
  const quarantineSeconds = config.usernameQuarantine;
  const deps = { db, accounts, consents, audit, salt: secrets.pairwiseSalt, quarantineSeconds };
  await eraseAccount(deps, id, 'operator');
  return { deleted: username };
}

import { createHmac } from 'node:crypto';
import type { AuditLog } from '../audit/writer.ts';
import type { Consents } from '../consents/consents.ts';
import type { Database } from '../db/database.ts';
import { findAccountById } from '../db/accounts.ts';
import { deleteAccountArtefacts } from '../db/grants.ts';
import { retireUsername } from '../db/retired-usernames.ts';

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
 * What stays is pseudonymous: the audit log and the consent ledger, which name only the random account id. The
 * username is held back for USERNAME_QUARANTINE so nobody can take it over at once.
 */
export async function eraseAccount(
  deps: { db: Database; consents: Consents; audit: AuditLog; salt: string; quarantineSeconds: number },
  accountId: string,
  actor: 'person' | 'operator',
): Promise<void> {
  const account = await findAccountById(deps.db, accountId);
  if (!account) return;
  await deps.consents.revokeAll(accountId, actor === 'operator' ? { channel: 'operator' } : { channel: 'account_deletion', accountId });
  await deps.db.transaction(async (tx) => {
    await deleteAccountArtefacts(tx, accountId);
    await retireUsername(tx, usernameHash(deps.salt, account.username), deps.quarantineSeconds);
    await tx.query('delete from accounts where id = $1', [accountId]);
  });
  await deps.audit.record({
    type: 'account.deleted',
    actor: actor === 'operator' ? 'operator' : `account:${accountId}`,
    accountId,
    details: { quarantine_seconds: deps.quarantineSeconds },
  });
}

import type { Database } from './database.ts';
import { deleteAccountArtefacts } from './grants.ts';
import { retireUsername } from './retired-usernames.ts';

/**
 * In one transaction, every row that holds a person's data: sessions, tokens, grants and interactions that name the
 * account, then the account itself (credentials, profile claims, recovery codes and security activity cascade). The
 * username's keyed hash is held back for `quarantineSeconds`. The audit log and the consent ledger stay: they name
 * only the random account id. Returns whether there was such an account.
 */
export async function eraseAccountRows(
  db: Database,
  accountId: string,
  retired: { usernameHash: string; quarantineSeconds: number },
): Promise<boolean> {
  return db.transaction(async (tx) => {
    await deleteAccountArtefacts(tx, accountId);
    const { rowCount } = await tx.query('delete from accounts where id = $1', [accountId]);
    if (rowCount !== 1) return false;
    await retireUsername(tx, retired.usernameHash, retired.quarantineSeconds);
    return true;
  });
}

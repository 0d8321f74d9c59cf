import { personNamed, type PeopleDeps } from './deps.ts';

/** Lifts a lockout and resets its doubling, as the operator's doing (audit log and the person's security activity). */
export async function unlockPerson({ accounts, audit }: Pick<PeopleDeps, 'accounts' | 'audit'>, username: string) {
  const account = await personNamed(accounts, username);
  await accounts.unlock(account.id);
  await audit.record({ type: 'account.unlocked', actor: 'operator', accountId: account.id });
  await accounts.recordSecurityEvent(account.id, 'account.unlocked');
  return { username: account.username, status: account.status };
}

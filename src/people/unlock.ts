import { unlock } from '../db/lockout.ts';
import { recordSecurityEvent } from '../db/security-events.ts';
import { personNamed, type PeopleDeps } from './deps.ts';

/** Lifts a lockout and resets its doubling, as the operator's doing (audit log and the person's security activity). */
export async function unlockPerson({ db, audit }: Pick<PeopleDeps, 'db' | 'audit'>, username: string) {
  const account = await personNamed(db, username);
  await unlock(db, account.id);
  await audit.record({ type: 'account.unlocked', actor: 'operator', accountId: account.id });
  await recordSecurityEvent(db, account.id, 'account.unlocked');
  return { username: account.username, status: account.status };
}

import { isLocked } from '../auth/sign-in.ts';
import type { PeopleDeps } from './deps.ts';

/** Every person with status, lockout and second-factor state; no credential. */
export async function listPeople({ accounts }: Pick<PeopleDeps, 'accounts'>) {
  const [people, activation] = await Promise.all([accounts.list(), accounts.activationCodeExpiries()]);
  return people.map((account) => {
    const activationUntil = account.totpSecretEncrypted ? null : (activation.get(account.id) ?? null);
    return {
      id: account.id,
      username: account.username,
      email: account.email,
      status: account.status === 'active' && isLocked(account) ? 'locked' : account.status,
      locked_until: isLocked(account) ? account.lockedUntil!.toISOString() : null,
      // 'not enrolled' without a live activation code: `users reset-mfa` issues a new one.
      mfa: account.totpSecretEncrypted ? 'totp' : activationUntil ? 'awaiting activation' : 'not enrolled',
      activation_code_expires_at: activationUntil?.toISOString() ?? null,
      created_at: account.createdAt.toISOString(),
    };
  });
}

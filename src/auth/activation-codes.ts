import type { ActivationCodes } from '../db/account-store.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { newCode, normaliseCode } from './one-time-codes.ts';

const PURPOSE = 'activation code';
/** 20 characters of 31: ~99 bits. Single-use, expiring, and every guess counts towards the lockout. */
const LENGTH = 20;

/**
 * Activation codes bind a person's first authenticator (and the next one after `users reset-mfa`) to them through a
 * channel an attacker with the password does not have (PSD2 RTS Art 4(3)(a), Art 22-24): the operator hands the
 * code over out of band, and the code page takes it together with the password before any secret is shown.
 */
export function newActivationCode(): string {
  return newCode(LENGTH);
}

export function hashActivationCode(box: SecretBox, code: string): string {
  return box.keyedHash(normaliseCode(code), PURPOSE);
}

/**
 * A new activation code for an account without an authenticator (`users add`, `users reset-mfa`, the demo): stored
 * only as a keyed hash, replacing any earlier one; the code itself is returned to be shown once.
 */
export async function issueActivationCode(
  store: Pick<ActivationCodes, 'setActivationCode'>,
  box: SecretBox,
  accountId: string,
  ttlSeconds: number,
): Promise<{ code: string; expiresAt: Date }> {
  const code = newActivationCode();
  return { code, expiresAt: await store.setActivationCode(accountId, hashActivationCode(box, code), ttlSeconds) };
}

import type { AccountRecord, ActivationCodes, SecondFactors } from '../db/account-store.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { hashActivationCode } from './activation-codes.ts';
import { hashRecoveryCode, looksLikeRecoveryCode } from './recovery-codes.ts';
import { checkTotp, newTotpSecret, TOTP_PURPOSE } from './totp.ts';

export type Possession = 'otp' | 'recovery' | 'activation';

type PossessionStore = Pick<SecondFactors, 'acceptTotpStep' | 'useRecoveryCode'> &
  Pick<ActivationCodes, 'consumeActivationCode'>;

/**
 * The possession factor: a TOTP code or a recovery code, or for an account without an authenticator yet the
 * activation code the operator handed over out of band. A code that matches is used up as it is judged.
 */
export class PossessionCheck {
  readonly #store: PossessionStore;
  readonly #box: SecretBox;
  /** Judged in place of a real secret for unknown, un-enrolled or refused attempts, so every path costs the same. */
  readonly #dummySealedSecret: string;

  constructor(store: PossessionStore, box: SecretBox) {
    this.#store = store;
    this.#box = box;
    this.#dummySealedSecret = box.encrypt(newTotpSecret(), TOTP_PURPOSE);
  }

  /**
   * Which possession factor `code` proves for `judged` (undefined: judge nothing real, as for an unknown account, a
   * wrong password or a refused attempt). Every branch does the same work whether or not there is a real account.
   */
  async judge(
    judged: AccountRecord | undefined,
    found: AccountRecord | undefined,
    code: string,
  ): Promise<Possession | null> {
    if (/^\d{6}$/.test(code)) {
      const real = judged?.totpSecretEncrypted ? judged : undefined;
      const secret = this.#box.decrypt(real?.totpSecretEncrypted ?? this.#dummySealedSecret, TOTP_PURPOSE);
      const matched = await checkTotp(secret, code, real ? real.totpLastStep : null);
      return real && matched !== null && (await this.#store.acceptTotpStep(real.id, matched)) ? 'otp' : null;
    }
    // Recovery codes belong to enrolled accounts, activation codes to accounts still without an authenticator.
    const recovery = hashRecoveryCode(this.#box, code);
    const activation = hashActivationCode(this.#box, code);
    if (found?.totpSecretEncrypted != null) {
      return (await this.#store.useRecoveryCode(found.id, recovery, judged !== undefined)) ? 'recovery' : null;
    }
    const consumed = await this.#store.consumeActivationCode(found?.id ?? '', activation, judged !== undefined);
    return consumed ? 'activation' : null;
  }

  /** A signed-in person's fresh second factor: a current TOTP code not used before, or an unused recovery code. */
  async stepUp(account: AccountRecord, code: string): Promise<'otp' | 'recovery' | null> {
    if (!account.totpSecretEncrypted) return null;
    if (/^\d{6}$/.test(code)) {
      const secret = this.#box.decrypt(account.totpSecretEncrypted, TOTP_PURPOSE);
      const matched = await checkTotp(secret, code, account.totpLastStep);
      return matched !== null && (await this.#store.acceptTotpStep(account.id, matched)) ? 'otp' : null;
    }
    if (!looksLikeRecoveryCode(code)) return null;
    return (await this.#store.useRecoveryCode(account.id, hashRecoveryCode(this.#box, code), true)) ? 'recovery' : null;
  }
}

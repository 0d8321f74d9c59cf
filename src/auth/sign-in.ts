import type { AuditLog } from '../audit/writer.ts';
import type { Config } from '../config/env.ts';
import type { AccountRecord, AccountStore, Reservation } from '../db/account-store.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { PasswordCheck } from './knowledge.ts';
import { PossessionCheck } from './possession.ts';
import { hashRecoveryCode, newRecoveryCodes } from './recovery-codes.ts';
import { checkTotp, newTotpSecret, TOTP_PURPOSE } from './totp.ts';

/** Re-exported for the callers that seal TOTP secrets (`users add`, the bench) alongside SignIn. */
export { TOTP_PURPOSE };

/** What the first step learnt, kept server-side in the interaction until the second factor is in. */
export interface PasswordStep {
  /** The step's row in `sign_in_steps`: consumed by the one second step that gets to judge it. */
  id: string;
  accountId: string | null;
  passwordOk: boolean;
  /**
   * Set when the checked hash was made with other ARGON2_* settings: a new hash (of the password if it was right,
   * else of a dummy), sealed; stored only once the second step succeeds. Absent in steps of older versions.
   */
  rehash?: string | null;
}

/** Where a sign-in came from, for the person's security activity (kept with their account, erased with it). */
export interface Origin {
  ip: string;
  device: string;
}

export type ScaOutcome =
  /** Both factors passed: signed in. */
  | { ok: true; accountId: string; amr: string[] }
  /** Password and activation code passed on an account without an authenticator: enrolment comes next. */
  | { ok: true; accountId: string; enrol: true }
  /** `stale`: this password step was judged already (a parallel or repeated post); nothing was done. */
  | { ok: false; reason: 'failed' | 'locked' | 'throttled' | 'stale' };

/**
 * Strong customer authentication (PSD2 RTS Art 4): knowledge (password) and possession (TOTP or a recovery code;
 * for an account without an authenticator yet, the activation code the operator handed over out of band).
 * Both factors are always collected before anything is decided; a failure never says which factor was wrong.
 */
export class SignIn {
  readonly #store: AccountStore;
  readonly #box: SecretBox;
  readonly #audit: AuditLog;
  readonly #policy: Config['sca'];
  readonly #password: PasswordCheck;
  readonly #possession: PossessionCheck;

  constructor(store: AccountStore, box: SecretBox, audit: AuditLog, policy: Config['sca']) {
    this.#store = store;
    this.#box = box;
    this.#audit = audit;
    this.#policy = policy;
    this.#password = new PasswordCheck(store, box, policy.argon2);
    this.#possession = new PossessionCheck(store, box);
  }

  /**
   * True (and audited) when `ip` has used up its failed sign-ins for the window: one address cannot lock out many
   * accounts.
   */
  async ipThrottled(ip: string): Promise<boolean> {
    const { failures, windowSeconds } = this.#policy.ipLimit;
    const throttled = (await this.#store.ipFailures(ip, windowSeconds)) >= failures;
    if (throttled) await this.#audit.record({ type: 'login.throttled', actor: 'anonymous', details: { ip } });
    return throttled;
  }

  /**
   * First step: check the password (against a dummy hash for unknown users) and remember the result. Whatever the
   * account and its second factor, the same code page comes next; nothing is decided before it.
   *
   * The work does not depend on whether the password is right (this step is not counted towards the lockout, so it
   * must tell nothing, RTS Art 4(3)(a)): a hash made with older ARGON2_* settings gets a new hash whether or not the
   * password matched, and nothing is written here; the new hash is stored after the second step succeeds.
   */
  async passwordStep(username: string, password: string): Promise<PasswordStep> {
    const account = username ? await this.#store.findByUsername(username) : undefined;
    const { passwordOk, rehash } = await this.#password.check(account, password);
    return { id: await this.#store.openSignInStep(), accountId: account?.id ?? null, passwordOk, rehash };
  }

  /**
   * Second step: decides on both factors together. The step is consumed first (judged once however often it is
   * posted), then the attempt is reserved against the address's and the account's limits in one statement, and only
   * a reserved attempt's factors are judged: parallel posts cannot outrun the lockout. Known and unknown accounts,
   * right and wrong passwords run the same statements and the same cryptography (RTS Art 4(3)(a)).
   */
  async secondStep(step: PasswordStep, code: string, origin: Origin): Promise<ScaOutcome> {
    if (!(await this.#store.consumeSignInStep(step.id))) return { ok: false, reason: 'stale' };
    const attempt = await this.#store.reserveAttempt(step.accountId, origin, this.#policy);
    if (!attempt.ipAllowed) {
      await this.#audit.record({ type: 'login.throttled', actor: 'anonymous', details: { ip: origin.ip } });
      return { ok: false, reason: 'throttled' };
    }
    const { account } = attempt;
    // A wrong password still runs every check (against nothing that can match), so it cannot burn a valid code.
    const judged = attempt.reserved && step.passwordOk ? account : undefined;
    const possession = await this.#possession.judge(judged, account, code.trim());

    if (account && possession) {
      const succeeded = possession === 'activation' ? 'activation_code.used' : 'login.succeeded';
      await this.#store.attemptSucceeded(account.id, origin.ip, attempt.eventId, succeeded);
      // Only a right password reaches this point, so the sealed hash is of the password.
      if (step.rehash) {
        await this.#store.updatePasswordHash(account.id, this.#password.openRehash(step.rehash));
      }
      if (possession === 'activation') return { ok: true, accountId: account.id, enrol: true };
      if (possession === 'recovery') {
        const left = await this.#store.unusedRecoveryCodes(account.id);
        await this.#audit.record({
          type: 'recovery_code.used',
          actor: `account:${account.id}`,
          accountId: account.id,
          details: { remaining: left },
        });
        await this.#store.recordSecurityEvent(account.id, 'recovery_code.used', origin);
      }
      await this.#audit.record({
        type: 'login.succeeded',
        actor: `account:${account.id}`,
        accountId: account.id,
        details: { amr: ['pwd', 'otp'], attempt: attempt.attempt },
      });
      return { ok: true, accountId: account.id, amr: ['pwd', 'otp'] };
    }

    // The address goes into the audit log only when no account is involved; a person's addresses are kept with their
    // security activity, which is erased with the account (GDPR Art 17).
    await this.#audit.record({
      type: 'login.failed',
      actor: account ? `account:${account.id}` : 'anonymous',
      accountId: account?.id,
      // `judged: false`: refused unjudged (locked, disabled); `attempt`: its place since the last success or lockout.
      details: account
        ? { known_account: true, judged: attempt.reserved, attempt: attempt.attempt }
        : { ip: origin.ip, known_account: false },
    });
    if (account) await this.#lockedNow(account, attempt, origin);
    return { ok: false, reason: (account && !attempt.reserved) || attempt.lockedUntil ? 'locked' : 'failed' };
  }

  /** When this failed attempt was the one that reached the threshold: the account is locked, audited once. */
  async #lockedNow(account: AccountRecord, attempt: Reservation, origin: Origin): Promise<void> {
    if (!attempt.lockedUntil) return;
    await this.#store.recordSecurityEvent(account.id, 'account.locked', origin);
    await this.#audit.record({
      type: 'account.locked',
      actor: 'system',
      accountId: account.id,
      details: { until: attempt.lockedUntil.toISOString(), lockouts: attempt.lockouts },
    });
  }

  /** Enrolment: a new secret, sealed for the interaction state until the person proves they hold it. */
  newEnrolment(): { secret: string; sealed: string } {
    const secret = newTotpSecret();
    return { secret, sealed: this.#box.encrypt(secret, TOTP_PURPOSE) };
  }

  openEnrolment(sealed: string): string {
    return this.#box.decrypt(sealed, TOTP_PURPOSE);
  }

  /**
   * Confirms a first enrolment (after password and activation code) with a valid code from the new authenticator;
   * stores the secret, signs the person in (audited) and returns ten fresh recovery codes. Null when the code did not
   * match, or another enrolment of the account got there first.
   */
  async confirmEnrolment(accountId: string, sealed: string, code: string, origin: Origin): Promise<string[] | null> {
    const step = await checkTotp(this.openEnrolment(sealed), code.trim(), null);
    if (step === null) return null;
    const codes = newRecoveryCodes();
    const stored = await this.#store.enrolFirstTotp(accountId, sealed, step, this.#recoveryHashes(codes));
    if (!stored) return null;
    await this.#audit.record({
      type: 'mfa.enrolled',
      actor: `account:${accountId}`,
      accountId,
      details: { method: 'totp', activation_code: true },
    });
    await this.#store.recordSecurityEvent(accountId, 'mfa.enrolled', origin);
    await this.#audit.record({
      type: 'login.succeeded',
      actor: `account:${accountId}`,
      accountId,
      details: { amr: ['pwd', 'otp'], enrolment: true },
    });
    await this.#store.recordSecurityEvent(accountId, 'login.succeeded', origin);
    return codes;
  }

  /**
   * A fresh second factor from a signed-in person (account area: re-enrolment, new recovery codes): a current TOTP
   * code not used before, or an unused recovery code. Reserved like any sign-in attempt, so its failures count
   * towards the lockout and the address's throttle, and parallel posts cannot outrun them.
   */
  async confirmSecondFactor(accountId: string, code: string, origin: Origin): Promise<boolean> {
    const attempt = await this.#store.reserveAttempt(accountId, origin, this.#policy);
    const account = attempt.account;
    if (!account || !attempt.ipAllowed) return false;
    const possession = attempt.reserved ? await this.#possession.stepUp(account, code.trim()) : null;
    if (possession) {
      const succeeded = possession === 'recovery' ? 'recovery_code.used' : 'login.succeeded';
      await this.#store.attemptSucceeded(account.id, origin.ip, attempt.eventId, succeeded);
      return true;
    }
    await this.#audit.record({
      type: 'login.failed',
      actor: `account:${account.id}`,
      accountId: account.id,
      details: { known_account: true, step_up: true, judged: attempt.reserved, attempt: attempt.attempt },
    });
    await this.#lockedNow(account, attempt, origin);
    return false;
  }

  /** Account area: a new TOTP secret (already proven by a code) and ten new recovery codes replace the old ones. */
  async reenrol(accountId: string, sealed: string, code: string, origin: Origin): Promise<string[] | null> {
    const step = await checkTotp(this.openEnrolment(sealed), code.trim(), null);
    if (step === null) return null;
    const codes = newRecoveryCodes();
    await this.#store.replaceTotp(accountId, sealed, step, this.#recoveryHashes(codes));
    await this.#audit.record({
      type: 'mfa.enrolled',
      actor: `account:${accountId}`,
      accountId,
      details: { method: 'totp', reenrolment: true },
    });
    await this.#store.recordSecurityEvent(accountId, 'mfa.enrolled', origin);
    return codes;
  }

  /** Account area: ten new recovery codes; the old ones (also those of the old format) stop working. */
  async regenerateRecoveryCodes(accountId: string, origin: Origin): Promise<string[]> {
    const codes = newRecoveryCodes();
    await this.#store.replaceRecoveryCodes(accountId, this.#recoveryHashes(codes));
    await this.#audit.record({ type: 'mfa.recovery_codes_regenerated', actor: `account:${accountId}`, accountId });
    await this.#store.recordSecurityEvent(accountId, 'recovery_codes.regenerated', origin);
    return codes;
  }

  #recoveryHashes(codes: string[]): string[] {
    return codes.map((code) => hashRecoveryCode(this.#box, code).keyed);
  }
}

export function isLocked(account: AccountRecord): boolean {
  return account.lockedUntil !== null && account.lockedUntil.getTime() > Date.now();
}

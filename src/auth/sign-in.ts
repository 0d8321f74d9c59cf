import type { AuditLog } from '../audit/writer.ts';
import type { Config } from '../config/env.ts';
import * as accounts from '../db/accounts.ts';
import type { Database } from '../db/database.ts';
import { recordSecurityEvent } from '../db/security-events.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { PasswordHasher } from './password.ts';
import { hashRecoveryCode, looksLikeRecoveryCode, newRecoveryCodes } from './recovery-codes.ts';
import { checkTotp, newTotpSecret } from './totp.ts';

export const TOTP_PURPOSE = 'totp secret';

/** What the first step learnt, kept server-side in the interaction until the second factor is in. */
export interface PasswordStep {
  accountId: string | null;
  passwordOk: boolean;
}

/** Where a sign-in came from, for the person's security activity (kept with their account, erased with it). */
export interface Origin {
  ip: string;
  device: string;
}

export type ScaOutcome =
  | { ok: true; accountId: string; amr: string[] }
  | { ok: false; reason: 'failed' | 'locked' | 'throttled' };

// Used for unknown accounts so the second step costs the same (RTS Art 4(3)(a): no hint which factor failed).
const DUMMY_TOTP_SECRET = newTotpSecret();

/**
 * Strong customer authentication (PSD2 RTS Art 4): knowledge (password) and possession (TOTP or a recovery code).
 * Both factors are always collected before anything is decided; a failure never says which factor was wrong.
 */
export class SignIn {
  readonly #db: Database;
  readonly #box: SecretBox;
  readonly #audit: AuditLog;
  readonly #policy: Config['sca'];
  readonly hasher: PasswordHasher;

  constructor(db: Database, box: SecretBox, audit: AuditLog, policy: Config['sca']) {
    this.#db = db;
    this.#box = box;
    this.#audit = audit;
    this.#policy = policy;
    this.hasher = new PasswordHasher(policy.argon2);
  }

  /** True (and audited) when `ip` has used up its failed sign-ins for the window: one address cannot lock out many accounts. */
  async ipThrottled(ip: string): Promise<boolean> {
    const throttled = (await accounts.ipFailures(this.#db, ip, this.#policy.ipLimit.windowSeconds)) >= this.#policy.ipLimit.failures;
    if (throttled) await this.#audit.record({ type: 'login.throttled', actor: 'anonymous', details: { ip } });
    return throttled;
  }

  /** First step: check the password (against a dummy hash for unknown users) and remember the result. */
  async passwordStep(username: string, password: string): Promise<PasswordStep> {
    const account = username ? await accounts.findAccountByUsername(this.#db, username) : undefined;
    const passwordOk = await this.hasher.verify(account?.passwordHash, password);
    if (account && passwordOk && this.hasher.needsRehash(account.passwordHash)) {
      await accounts.updatePasswordHash(this.#db, account.id, await this.hasher.hash(password));
    }
    return { accountId: account?.id ?? null, passwordOk };
  }

  /** True when the password was right but the account has no second factor yet: enrolment comes next. */
  async needsEnrolment(step: PasswordStep): Promise<boolean> {
    if (!step.passwordOk || !step.accountId) return false;
    const account = await accounts.findAccountById(this.#db, step.accountId);
    return !!account && account.status === 'active' && !isLocked(account) && account.totpSecretEncrypted === null;
  }

  /** Second step: decides on both factors together, counts failures, locks, audits. */
  async secondStep(step: PasswordStep, code: string, origin: Origin): Promise<ScaOutcome> {
    const { ip } = origin;
    if (await this.ipThrottled(ip)) return { ok: false, reason: 'throttled' };
    const account = step.accountId ? await accounts.findAccountById(this.#db, step.accountId) : undefined;
    const trimmed = code.trim();

    let possession: 'otp' | 'recovery' | null = null;
    if (account?.totpSecretEncrypted && /^\d{6}$/.test(trimmed)) {
      const secret = this.#box.decrypt(account.totpSecretEncrypted, TOTP_PURPOSE);
      const matched = await checkTotp(secret, trimmed, account.totpLastStep);
      // Recorded only when the password was right too, so a wrong password cannot burn a valid code.
      if (matched !== null && step.passwordOk && (await accounts.acceptTotpStep(this.#db, account.id, matched))) possession = 'otp';
    } else if (account && looksLikeRecoveryCode(trimmed)) {
      if (step.passwordOk && (await accounts.useRecoveryCode(this.#db, account.id, hashRecoveryCode(trimmed)))) possession = 'recovery';
    } else {
      await checkTotp(DUMMY_TOTP_SECRET, trimmed, null);
    }

    const usable = account !== undefined && account.status === 'active' && !isLocked(account);
    if (usable && step.passwordOk && possession) {
      await accounts.recordSuccess(this.#db, account.id);
      if (possession === 'recovery') {
        const left = await accounts.unusedRecoveryCodes(this.#db, account.id);
        await this.#audit.record({ type: 'recovery_code.used', actor: `account:${account.id}`, accountId: account.id, details: { remaining: left } });
        await recordSecurityEvent(this.#db, account.id, 'recovery_code.used', origin);
      }
      await this.recordSuccess(account.id, origin);
      return { ok: true, accountId: account.id, amr: ['pwd', 'otp'] };
    }

    await accounts.recordIpFailure(this.#db, ip, this.#policy.ipLimit.windowSeconds);
    const locked = account ? isLocked(account) : false;
    // Attempts against a locked account do not extend the lock: a victim cannot be locked out forever.
    const lockedNow = account && account.status === 'active' && !locked ? await accounts.recordFailure(this.#db, account.id, this.#policy.lockout) : null;
    // The address goes into the audit log only when no account is involved; a person's addresses are kept with their
    // security activity, which is erased with the account (GDPR Art 17).
    await this.#audit.record({
      type: 'login.failed',
      actor: account ? `account:${account.id}` : 'anonymous',
      accountId: account?.id,
      details: account ? { known_account: true } : { ip, known_account: false },
    });
    if (account) await recordSecurityEvent(this.#db, account.id, 'login.failed', origin);
    if (lockedNow) {
      await recordSecurityEvent(this.#db, account!.id, 'account.locked', origin);
      await this.#audit.record({
        type: 'account.locked',
        actor: 'system',
        accountId: account!.id,
        details: { until: lockedNow.toISOString(), lockouts: account!.lockouts + 1 },
      });
    }
    return { ok: false, reason: locked || lockedNow ? 'locked' : 'failed' };
  }

  /** Enrolment: a new secret, sealed for the interaction state until the person proves they hold it. */
  newEnrolment(): { secret: string; sealed: string } {
    const secret = newTotpSecret();
    return { secret, sealed: this.#box.encrypt(secret, TOTP_PURPOSE) };
  }

  openEnrolment(sealed: string): string {
    return this.#box.decrypt(sealed, TOTP_PURPOSE);
  }

  /** Confirms enrolment with a valid code; stores the secret and returns ten fresh recovery codes. */
  async confirmEnrolment(accountId: string, sealed: string, code: string, origin: Origin): Promise<string[] | null> {
    const step = await checkTotp(this.openEnrolment(sealed), code.trim(), null);
    if (step === null) return null;
    const codes = newRecoveryCodes();
    await this.#db.transaction((tx) => accounts.enrolTotp(tx, accountId, sealed, step, codes.map(hashRecoveryCode)));
    await this.#audit.record({ type: 'mfa.enrolled', actor: `account:${accountId}`, accountId, details: { method: 'totp' } });
    await recordSecurityEvent(this.#db, accountId, 'mfa.enrolled', origin);
    return codes;
  }

  async recordSuccess(accountId: string, origin: Origin, details: Record<string, boolean> = {}): Promise<void> {
    await this.#audit.record({ type: 'login.succeeded', actor: `account:${accountId}`, accountId, details: { amr: ['pwd', 'otp'], ...details } });
    await recordSecurityEvent(this.#db, accountId, 'login.succeeded', origin);
  }

  /**
   * A fresh second factor from a signed-in person (account area: re-enrolment, new recovery codes): a current TOTP
   * code not used before, or an unused recovery code. Failures count towards the lockout like any other.
   */
  async confirmSecondFactor(accountId: string, code: string, origin: Origin): Promise<boolean> {
    const account = await accounts.findAccountById(this.#db, accountId);
    if (!account || account.status !== 'active' || isLocked(account)) return false;
    const trimmed = code.trim();
    let ok = false;
    if (account.totpSecretEncrypted && /^\d{6}$/.test(trimmed)) {
      const matched = await checkTotp(this.#box.decrypt(account.totpSecretEncrypted, TOTP_PURPOSE), trimmed, account.totpLastStep);
      ok = matched !== null && (await accounts.acceptTotpStep(this.#db, account.id, matched));
    } else if (looksLikeRecoveryCode(trimmed)) {
      ok = await accounts.useRecoveryCode(this.#db, account.id, hashRecoveryCode(trimmed));
      if (ok) await recordSecurityEvent(this.#db, account.id, 'recovery_code.used', origin);
    }
    if (ok) {
      await accounts.recordSuccess(this.#db, account.id);
      return true;
    }
    const lockedNow = await accounts.recordFailure(this.#db, account.id, this.#policy.lockout);
    await this.#audit.record({ type: 'login.failed', actor: `account:${account.id}`, accountId: account.id, details: { known_account: true, step_up: true } });
    await recordSecurityEvent(this.#db, account.id, 'login.failed', origin);
    if (lockedNow) {
      await this.#audit.record({ type: 'account.locked', actor: 'system', accountId: account.id, details: { until: lockedNow.toISOString(), lockouts: account.lockouts + 1 } });
      await recordSecurityEvent(this.#db, account.id, 'account.locked', origin);
    }
    return false;
  }

  /** Account area: a new TOTP secret (already proven by a code) and ten new recovery codes replace the old ones. */
  async reenrol(accountId: string, sealed: string, code: string, origin: Origin): Promise<string[] | null> {
    const step = await checkTotp(this.openEnrolment(sealed), code.trim(), null);
    if (step === null) return null;
    const codes = newRecoveryCodes();
    await this.#db.transaction((tx) => accounts.enrolTotp(tx, accountId, sealed, step, codes.map(hashRecoveryCode)));
    await this.#audit.record({ type: 'mfa.enrolled', actor: `account:${accountId}`, accountId, details: { method: 'totp', reenrolment: true } });
    await recordSecurityEvent(this.#db, accountId, 'mfa.enrolled', origin);
    return codes;
  }

  /** Account area: ten new recovery codes; the old ones stop working. */
  async regenerateRecoveryCodes(accountId: string, origin: Origin): Promise<string[]> {
    const codes = newRecoveryCodes();
    await this.#db.transaction((tx) => accounts.replaceRecoveryCodes(tx, accountId, codes.map(hashRecoveryCode)));
    await this.#audit.record({ type: 'mfa.recovery_codes_regenerated', actor: `account:${accountId}`, accountId });
    await recordSecurityEvent(this.#db, accountId, 'recovery_codes.regenerated', origin);
    return codes;
  }
}

export function isLocked(account: accounts.AccountRecord): boolean {
  return account.lockedUntil !== null && account.lockedUntil.getTime() > Date.now();
}

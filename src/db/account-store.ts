import * as accounts from './accounts.ts';
import type { AccountRecord, NewAccount } from './accounts.ts';
import * as activationCodes from './activation-codes.ts';
import { Database, type Queryable } from './database.ts';
import { GroupCommit } from './group-commit.ts';
import * as lockout from './lockout.ts';
import type { LockoutPolicy, Reservation } from './lockout.ts';
import * as factors from './second-factors.ts';
import * as securityEvents from './security-events.ts';
import type { SecurityEvent, SecurityEventType } from './security-events.ts';
import * as signInSteps from './sign-in-steps.ts';

// What callers outside src/db need of the account modules' types: they import only this module.
export type { AccountRecord, NewAccount, LockoutPolicy, Reservation, SecurityEvent, SecurityEventType };

/** Where an attempt came from, as kept in the person's security activity. */
export interface AttemptOrigin {
  ip: string;
  device: string | null;
}

/** The limits an attempt is reserved against (config `sca`). */
export interface AttemptPolicy {
  lockout: LockoutPolicy;
  ipLimit: { failures: number; windowSeconds: number };
}

/** The accounts themselves. */
export interface AccountRecords {
  insert(account: NewAccount): Promise<void>;
  findById(id: string): Promise<AccountRecord | undefined>;
  /** Case-insensitive. */
  findByUsername(username: string): Promise<AccountRecord | undefined>;
  /** The leading fields most stored password hashes share; see {@link accounts.commonPasswordParameters}. */
  commonPasswordParameters(): Promise<string | undefined>;
  updatePasswordHash(id: string, passwordHash: string): Promise<void>;
  setStatus(id: string, status: 'active' | 'disabled'): Promise<void>;
  /** Ordered by username, case-insensitively. */
  list(): Promise<AccountRecord[]>;
}

/** Password steps awaiting their second factor: each is judged by exactly one second step. */
export interface SignInSteps {
  openSignInStep(): Promise<string>;
  /** True for exactly one caller per live step. */
  consumeSignInStep(id: string): Promise<boolean>;
}

/** The lockout and address counters (issue 13): an attempt is reserved before anything is judged. */
export interface SignInAttempts {
  ipFailures(ip: string, windowSeconds: number): Promise<number>;
  /** Atomic: of parallel attempts, no more than the threshold are judged; see {@link lockout.reserveAttempt}. */
  reserveAttempt(accountId: string | null, origin: AttemptOrigin, policy: AttemptPolicy): Promise<Reservation>;
  attemptSucceeded(accountId: string, ip: string, eventId: string | null, eventType: SecurityEventType): Promise<void>;
  unlock(id: string): Promise<void>;
}

/** TOTP authenticators and recovery codes. Every method is atomic: of racing calls with one code, one wins. */
export interface SecondFactors {
  acceptTotpStep(id: string, step: number): Promise<boolean>;
  enrolFirstTotp(id: string, secretEncrypted: string, step: number, codeHashes: string[]): Promise<boolean>;
  replaceTotp(id: string, secretEncrypted: string, step: number, codeHashes: string[]): Promise<void>;
  replaceRecoveryCodes(id: string, codeHashes: string[]): Promise<void>;
  useRecoveryCode(
    accountId: string,
    hashes: { keyed: string; legacy: string | null },
    allowed: boolean,
  ): Promise<boolean>;
  unusedRecoveryCodes(accountId: string): Promise<number>;
  resetMfa(id: string): Promise<void>;
}

/** At most one live activation code per account, used up once. */
export interface ActivationCodes {
  setActivationCode(accountId: string, codeHash: string, ttlSeconds: number): Promise<Date>;
  consumeActivationCode(accountId: string, codeHash: string, allowed: boolean): Promise<boolean>;
  /** Every live code's expiry, by account. */
  activationCodeExpiries(): Promise<Map<string, Date>>;
}

/** The person's own security activity (kept with their account, erased with it). */
export interface SecurityActivity {
  recordSecurityEvent(
    accountId: string,
    type: SecurityEventType,
    where?: { ip?: string | undefined; device?: string | undefined },
  ): Promise<void>;
  securityEventsFor(accountId: string, limit?: number): Promise<SecurityEvent[]>;
}

/** Everything sign-in and the account area keep about a person. */
export interface AccountStore
  extends AccountRecords,
    SignInSteps,
    SignInAttempts,
    SecondFactors,
    ActivationCodes,
    SecurityActivity {}

/**
 * The {@link AccountStore} on Postgres; built on a pool or on a transaction's `tx`. On the pool, lookups by id of
 * the requests in flight share one statement (group commit, group-commit.ts): every token request under a grant
 * and every introspection of a person's token reads their account.
 */
export class PgAccountStore implements AccountStore {
  readonly #db: Queryable;
  readonly #finds: GroupCommit<string, AccountRecord | undefined> | undefined;

  constructor(db: Queryable) {
    this.#db = db;
    this.#finds = db instanceof Database ? new GroupCommit((ids) => accounts.findAccountsById(db, ids)) : undefined;
  }

  insert(account: NewAccount) {
    return accounts.insertAccount(this.#db, account);
  }

  findById(id: string) {
    return this.#finds ? this.#finds.submit(id) : accounts.findAccountById(this.#db, id);
  }

  findByUsername(username: string) {
    return accounts.findAccountByUsername(this.#db, username);
  }

  commonPasswordParameters() {
    return accounts.commonPasswordParameters(this.#db);
  }

  updatePasswordHash(id: string, passwordHash: string) {
    return accounts.updatePasswordHash(this.#db, id, passwordHash);
  }

  setStatus(id: string, status: 'active' | 'disabled') {
    return accounts.setStatus(this.#db, id, status);
  }

  list() {
    return accounts.listAccounts(this.#db);
  }

  openSignInStep() {
    return signInSteps.openSignInStep(this.#db);
  }

  consumeSignInStep(id: string) {
    return signInSteps.consumeSignInStep(this.#db, id);
  }

  ipFailures(ip: string, windowSeconds: number) {
    return lockout.ipFailures(this.#db, ip, windowSeconds);
  }

  reserveAttempt(accountId: string | null, origin: AttemptOrigin, policy: AttemptPolicy) {
    return lockout.reserveAttempt(this.#db, accountId, origin, policy);
  }

  attemptSucceeded(accountId: string, ip: string, eventId: string | null, eventType: SecurityEventType) {
    return lockout.attemptSucceeded(this.#db, accountId, ip, eventId, eventType);
  }

  unlock(id: string) {
    return lockout.unlock(this.#db, id);
  }

  acceptTotpStep(id: string, step: number) {
    return factors.acceptTotpStep(this.#db, id, step);
  }

  enrolFirstTotp(id: string, secretEncrypted: string, step: number, codeHashes: string[]) {
    return factors.enrolFirstTotp(this.#db, id, secretEncrypted, step, codeHashes);
  }

  replaceTotp(id: string, secretEncrypted: string, step: number, codeHashes: string[]) {
    return factors.replaceTotp(this.#db, id, secretEncrypted, step, codeHashes);
  }

  replaceRecoveryCodes(id: string, codeHashes: string[]) {
    return factors.replaceRecoveryCodes(this.#db, id, codeHashes);
  }

  useRecoveryCode(accountId: string, hashes: { keyed: string; legacy: string | null }, allowed: boolean) {
    return factors.useRecoveryCode(this.#db, accountId, hashes, allowed);
  }

  unusedRecoveryCodes(accountId: string) {
    return factors.unusedRecoveryCodes(this.#db, accountId);
  }

  resetMfa(id: string) {
    return factors.resetMfa(this.#db, id);
  }

  setActivationCode(accountId: string, codeHash: string, ttlSeconds: number) {
    return activationCodes.setActivationCode(this.#db, accountId, codeHash, ttlSeconds);
  }

  consumeActivationCode(accountId: string, codeHash: string, allowed: boolean) {
    return activationCodes.consumeActivationCode(this.#db, accountId, codeHash, allowed);
  }

  activationCodeExpiries() {
    return activationCodes.activationCodeExpiries(this.#db);
  }

  recordSecurityEvent(accountId: string, type: SecurityEventType, where?: { ip?: string; device?: string }) {
    return securityEvents.recordSecurityEvent(this.#db, accountId, type, where);
  }

  securityEventsFor(accountId: string, limit?: number) {
    return securityEvents.securityEventsFor(this.#db, accountId, limit);
  }
}

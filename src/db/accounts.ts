import type { Queryable } from './database.ts';
import type { SecurityEventType } from './security-events.ts';

export interface AccountRecord {
  id: string;
  username: string;
  email: string | null;
  passwordHash: string;
  status: 'active' | 'disabled';
  claims: Record<string, unknown>;
  totpSecretEncrypted: string | null;
  totpLastStep: number | null;
  failedAttempts: number;
  lockouts: number;
  lockedUntil: Date | null;
  createdAt: Date;
}

interface Row {
  id: string;
  username: string;
  email: string | null;
  password_hash: string;
  status: 'active' | 'disabled';
  claims: Record<string, unknown>;
  totp_secret_encrypted: string | null;
  totp_last_step: string | null;
  failed_attempts: number;
  lockouts: number;
  locked_until: Date | null;
  created_at: Date;
  [key: string]: unknown;
}

const toRecord = (row: Row): AccountRecord => ({
  id: row.id,
  username: row.username,
  email: row.email,
  passwordHash: row.password_hash,
  status: row.status,
  claims: row.claims,
  totpSecretEncrypted: row.totp_secret_encrypted,
  totpLastStep: row.totp_last_step === null ? null : Number(row.totp_last_step),
  failedAttempts: row.failed_attempts,
  lockouts: row.lockouts,
  lockedUntil: row.locked_until,
  createdAt: row.created_at,
});

/** The `accounts` and `recovery_codes` tables. */
export async function findAccountById(db: Queryable, id: string): Promise<AccountRecord | undefined> {
  const { rows } = await db.query<Row>('select * from accounts where id = $1', [id]);
  return rows[0] && toRecord(rows[0]);
}

export async function findAccountByUsername(db: Queryable, username: string): Promise<AccountRecord | undefined> {
  const { rows } = await db.query<Row>('select * from accounts where lower(username) = lower($1)', [username]);
  return rows[0] && toRecord(rows[0]);
}

export async function listAccounts(db: Queryable): Promise<AccountRecord[]> {
  const { rows } = await db.query<Row>('select * from accounts order by lower(username)');
  return rows.map(toRecord);
}

export interface NewAccount {
  id: string;
  username: string;
  email: string | null;
  passwordHash: string;
  claims: Record<string, unknown>;
  totpSecretEncrypted: string | null;
}

export async function insertAccount(db: Queryable, account: NewAccount): Promise<void> {
  await db.query(
    `insert into accounts (id, username, email, password_hash, claims, totp_secret_encrypted)
     values ($1, $2, $3, $4, $5, $6)`,
    [account.id, account.username, account.email, account.passwordHash, account.claims, account.totpSecretEncrypted],
  );
}

/**
 * The leading fields most stored password hashes share (`$argon2id$v=19$m=…,t=…,p=…$`, up to the salt), or
 * undefined without accounts: what the dummy for unknown usernames is made like.
 */
export async function commonPasswordParameters(db: Queryable): Promise<string | undefined> {
  const { rows } = await db.query<{ parameters: string }>(
    `select substring(password_hash from '^[$][^$]+[$][^$]+[$][^$]+[$]') as parameters
     from accounts group by 1 order by count(*) desc limit 1`,
  );
  return rows[0]?.parameters ?? undefined;
}

export async function updatePasswordHash(db: Queryable, id: string, passwordHash: string): Promise<void> {
  await db.query('update accounts set password_hash = $2, updated_at = now() where id = $1', [id, passwordHash]);
}

export async function setStatus(db: Queryable, id: string, status: 'active' | 'disabled'): Promise<void> {
  await db.query('update accounts set status = $2, updated_at = now() where id = $1', [id, status]);
}

/**
 * Records an accepted TOTP step, only if it is later than the last one: of two requests racing with the same
 * code, one wins. Returns false when the step was already used.
 */
export async function acceptTotpStep(db: Queryable, id: string, step: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `update accounts set totp_last_step = $2, updated_at = now()
     where id = $1 and (totp_last_step is null or totp_last_step < $2)`,
    [id, step],
  );
  return rowCount === 1;
}

/**
 * Stores the first (or, after a reset, the next) authenticator and its recovery codes, only while the account has
 * none: of two confirmations racing for one account, one wins. Returns false when another one was first. Only while
 * no activation code is outstanding either: the code that opened this enrolment was used up, so a live one means the
 * operator issued a new one since (`users reset-mfa`), which ends every enrolment begun before it.
 */
export async function enrolFirstTotp(db: Queryable, id: string, secretEncrypted: string, step: number, codeHashes: string[]): Promise<boolean> {
  const { rowCount } = await db.query(
    `update accounts set totp_secret_encrypted = $2, totp_last_step = $3, updated_at = now()
     where id = $1 and status = 'active' and totp_secret_encrypted is null
       and not exists (select 1 from activation_codes c where c.account_id = accounts.id)`,
    [id, secretEncrypted, step],
  );
  if (rowCount !== 1) return false;
  await replaceRecoveryCodes(db, id, codeHashes);
  return true;
}

/** Replaces the authenticator of a signed-in person (account area re-enrolment) and their recovery codes. */
export async function replaceTotp(db: Queryable, id: string, secretEncrypted: string, step: number, codeHashes: string[]): Promise<void> {
  await db.query(`update accounts set totp_secret_encrypted = $2, totp_last_step = $3, updated_at = now() where id = $1`, [id, secretEncrypted, step]);
  await replaceRecoveryCodes(db, id, codeHashes);
}

/** New recovery codes (keyed hashes) replace every old one. */
export async function replaceRecoveryCodes(db: Queryable, id: string, codeHashes: string[]): Promise<void> {
  await db.query('delete from recovery_codes where account_id = $1', [id]);
  await db.query(`insert into recovery_codes (account_id, code_hash, scheme) select $1, unnest($2::text[]), 'hmac'`, [id, codeHashes]);
}

export async function resetMfa(db: Queryable, id: string): Promise<void> {
  await db.query(`update accounts set totp_secret_encrypted = null, totp_last_step = null, updated_at = now() where id = $1`, [id]);
  await db.query('delete from recovery_codes where account_id = $1', [id]);
}

/** Replaces every recovery code stored as a plain SHA-256 by `wrap` of it (scheme 'hmac-sha256'), a batch at a time. */
export async function rewrapSha256RecoveryCodes(tx: Queryable, wrap: (sha256: string) => string, batch: number): Promise<number> {
  let rewrapped = 0;
  for (;;) {
    const { rows } = await tx.query<{ account_id: string; code_hash: string }>(
      `select account_id, code_hash from recovery_codes where scheme = 'sha256' limit $1`,
      [batch],
    );
    if (rows.length === 0) return rewrapped;
    await tx.query(
      `update recovery_codes r set code_hash = n.wrapped, scheme = 'hmac-sha256'
       from unnest($1::text[], $2::text[], $3::text[]) as n (account_id, code_hash, wrapped)
       where r.account_id = n.account_id and r.code_hash = n.code_hash and r.scheme = 'sha256'`,
      [rows.map((r) => r.account_id), rows.map((r) => r.code_hash), rows.map((r) => wrap(r.code_hash))],
    );
    rewrapped += rows.length;
  }
}

/**
 * Marks one unused recovery code used when `allowed`; false when it does not exist, was used already or `allowed`
 * is false. A keyed hash matches rows of the current scheme, the keyed hash of a SHA-256 only rows made before
 * migration 0008 (re-wrapped at start). The statement runs whatever `allowed` says, so a wrong password costs the
 * same time as a right one.
 */
export async function useRecoveryCode(
  db: Queryable,
  accountId: string,
  hashes: { keyed: string; legacy: string | null },
  allowed: boolean,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update recovery_codes set used_at = now()
     where $4::boolean and account_id = $1 and used_at is null
       and ((scheme = 'hmac' and code_hash = $2) or (scheme = 'hmac-sha256' and code_hash = $3))`,
    [accountId, hashes.keyed, hashes.legacy ?? '', allowed],
  );
  return rowCount === 1;
}

export async function unusedRecoveryCodes(db: Queryable, accountId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from recovery_codes where account_id = $1 and used_at is null', [accountId]);
  return rows[0]?.n ?? 0;
}

export interface LockoutPolicy {
  threshold: number;
  baseSeconds: number;
  maxSeconds: number;
}

/** What reserving an attempt found: the account (if any), and whether this attempt may be judged. */
export interface Reservation {
  /** False when the address has used up its failed sign-ins for the window: nothing else was done. */
  ipAllowed: boolean;
  account: AccountRecord | undefined;
  /** The account was active, not locked, and this attempt is counted: only then may the factors be judged. */
  reserved: boolean;
  /** The attempt's place among those since the last success or lockout, 1 to the threshold (null if not reserved). */
  attempt: number | null;
  /** This attempt reached the threshold: the account is locked from now on unless the attempt succeeds. */
  lockedUntil: Date | null;
  /** The account's lockouts after this attempt (null if not reserved), counting this lock if it set one. */
  lockouts: number | null;
  /** The security-activity row recording this attempt as failed, turned into a success if it is one. */
  eventId: string | null;
}

/**
 * The lockouts that still count towards the next lock's length: none once the last lock ended more than
 * `LOCKOUT_MAX_DURATION` ($8) ago, so the doubling decays after a quiet period (checklist B1: a victim is not
 * lockable for ever longer). The exponent is capped at 30 (2^30 lock lengths far exceed any maximum): with more,
 * float8 overflows and the statement fails, and the account then answered 500 even to the right credentials.
 */
const RECENT_LOCKOUTS = `(case when locked_until > now() - make_interval(secs => $8::float8) then lockouts else 0 end)`;

/**
 * Reserves one sign-in attempt before anything is judged (issue 13: parallel requests must not outrun the lockout),
 * in one statement: the address's failure count goes up unless it is at `ipLimit` (else nothing happens); the
 * account's goes up unless it is disabled or locked, and the attempt that reaches `threshold` locks it for
 * `baseSeconds * 2^(recent lockouts)`, capped at `maxSeconds`, while it is still being judged; a reserved attempt
 * is entered in the person's security activity as failed (a refused one is not: while an account is locked, each
 * refused guess would add a row, and the lock itself is recorded once as `account.locked`). Every attempt counts as
 * a failure until {@link attemptSucceeded} says otherwise, so a crash mid-judgement leaves it counted. The
 * statement is the same for unknown accounts (`accountId` null).
 */
export async function reserveAttempt(
  db: Queryable,
  accountId: string | null,
  origin: { ip: string; device: string | null },
  policy: { lockout: LockoutPolicy; ipLimit: { failures: number; windowSeconds: number } },
): Promise<Reservation> {
  const { threshold, baseSeconds, maxSeconds } = policy.lockout;
  type Reserved = { ip_allowed: boolean; reserved: boolean; locks_until: Date | null; attempt: number | null };
  const { rows } = await db.query<Row & Reserved & { lockouts_now: number | null; event_id: string | null }>(
    `with ip as (
       insert into login_failures_by_ip as f (ip, window_start, failures) values ($2, now(), 1)
       on conflict (ip) do update set
         failures = case when f.window_start < now() - make_interval(secs => $4::float8) then 1 else f.failures + 1 end,
         window_start = case when f.window_start < now() - make_interval(secs => $4::float8) then now() else f.window_start end
       where f.window_start < now() - make_interval(secs => $4::float8) or f.failures < $5
       returning 1
     ), reserved as (
       update accounts set
         failed_attempts = case when failed_attempts + 1 >= $6 then 0 else failed_attempts + 1 end,
         lockouts = case when failed_attempts + 1 >= $6 then ${RECENT_LOCKOUTS} + 1 else lockouts end,
         locked_until = case when failed_attempts + 1 >= $6
           then now() + make_interval(secs => least($8::float8, $7::float8 * power(2, least(${RECENT_LOCKOUTS}, 30))))
           else locked_until end,
         updated_at = now()
       where id = $1 and status = 'active' and (locked_until is null or locked_until <= now()) and exists (select 1 from ip)
       returning id, case when locked_until > now() then locked_until end as locks_until,
         case when locked_until > now() then $6 else failed_attempts end as attempt, lockouts as lockouts_now
     ), event as (
       insert into security_events (account_id, type, ip, device)
       select id, 'login.failed', $2, $3 from reserved
       returning id
     )
     select exists (select 1 from ip) as ip_allowed, a.*, r.id is not null as reserved, r.locks_until, r.attempt,
       r.lockouts_now, e.id::text as event_id
     from (select 1) as one
     left join accounts a on a.id = $1
     left join reserved r on true
     left join event e on true`,
    [accountId ?? '', origin.ip, origin.device, policy.ipLimit.windowSeconds, policy.ipLimit.failures, threshold, baseSeconds, maxSeconds],
  );
  const row = rows[0]!;
  return {
    ipAllowed: row.ip_allowed,
    account: row.id ? toRecord(row) : undefined,
    reserved: row.reserved,
    attempt: row.attempt,
    lockedUntil: row.locks_until,
    lockouts: row.lockouts_now,
    eventId: row.event_id,
  };
}

/**
 * A reserved attempt that was judged right: the account's failures (and a lock this very burst of attempts set) are
 * cleared, the address gets its reserved failure back, and the security-activity row becomes `eventType`.
 */
export async function attemptSucceeded(db: Queryable, accountId: string, ip: string, eventId: string | null, eventType: SecurityEventType): Promise<void> {
  await db.query(
    `with account as (
       update accounts set failed_attempts = 0, lockouts = 0, locked_until = null, updated_at = now() where id = $1
     ), address as (
       update login_failures_by_ip set failures = greatest(failures - 1, 0) where ip = $2
     )
     update security_events set type = $4 where id = $3::bigint and account_id = $1`,
    [accountId, ip, eventId, eventType],
  );
}

/** The operator's unlock: the next lock starts again at `LOCKOUT_DURATION`. */
export async function unlock(db: Queryable, id: string): Promise<void> {
  await db.query(`update accounts set failed_attempts = 0, lockouts = 0, locked_until = null, updated_at = now() where id = $1`, [id]);
}

export async function ipFailures(db: Queryable, ip: string, windowSeconds: number): Promise<number> {
  const { rows } = await db.query<{ failures: number }>(
    `select failures from login_failures_by_ip where ip = $1 and window_start >= now() - make_interval(secs => $2::float8)`,
    [ip, windowSeconds],
  );
  return rows[0]?.failures ?? 0;
}

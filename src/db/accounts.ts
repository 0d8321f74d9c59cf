import type { Queryable } from './database.ts';

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

export async function enrolTotp(db: Queryable, id: string, secretEncrypted: string, step: number, codeHashes: string[]): Promise<void> {
  await db.query(
    `update accounts set totp_secret_encrypted = $2, totp_last_step = $3, updated_at = now() where id = $1`,
    [id, secretEncrypted, step],
  );
  await replaceRecoveryCodes(db, id, codeHashes);
}

export async function replaceRecoveryCodes(db: Queryable, id: string, codeHashes: string[]): Promise<void> {
  await db.query('delete from recovery_codes where account_id = $1', [id]);
  for (const hash of codeHashes) await db.query('insert into recovery_codes (account_id, code_hash) values ($1, $2)', [id, hash]);
}

export async function resetMfa(db: Queryable, id: string): Promise<void> {
  await db.query(`update accounts set totp_secret_encrypted = null, totp_last_step = null, updated_at = now() where id = $1`, [id]);
  await db.query('delete from recovery_codes where account_id = $1', [id]);
}

/** Marks one unused recovery code used; false when it does not exist or was used already. */
export async function useRecoveryCode(db: Queryable, accountId: string, codeHash: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'update recovery_codes set used_at = now() where account_id = $1 and code_hash = $2 and used_at is null',
    [accountId, codeHash],
  );
  return rowCount === 1;
}

export async function unusedRecoveryCodes(db: Queryable, accountId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from recovery_codes where account_id = $1 and used_at is null', [accountId]);
  return rows[0]?.n ?? 0;
}

/**
 * Counts a failed attempt. At `threshold` consecutive failures the account locks for
 * `baseSeconds * 2^(previous lockouts)`, capped at `maxSeconds`, and the counter starts again.
 * Returns the lock end when this failure locked the account.
 */
export async function recordFailure(
  db: Queryable,
  id: string,
  { threshold, baseSeconds, maxSeconds }: { threshold: number; baseSeconds: number; maxSeconds: number },
): Promise<Date | null> {
  const { rows } = await db.query<{ locked_until: Date | null; locked_now: boolean }>(
    `update accounts set
       failed_attempts = case when failed_attempts + 1 >= $2 then 0 else failed_attempts + 1 end,
       lockouts = case when failed_attempts + 1 >= $2 then lockouts + 1 else lockouts end,
       locked_until = case when failed_attempts + 1 >= $2
         then now() + make_interval(secs => least($4::float8, $3::float8 * power(2, lockouts)))
         else locked_until end,
       updated_at = now()
     where id = $1
     returning locked_until, (failed_attempts = 0 and locked_until > now()) as locked_now`,
    [id, threshold, baseSeconds, maxSeconds],
  );
  return rows[0]?.locked_now ? rows[0].locked_until : null;
}

export async function recordSuccess(db: Queryable, id: string): Promise<void> {
  await db.query("update accounts set failed_attempts = 0, lockouts = 0, updated_at = now() where id = $1", [id]);
}

export async function unlock(db: Queryable, id: string): Promise<void> {
  await db.query('update accounts set failed_attempts = 0, locked_until = null, updated_at = now() where id = $1', [id]);
}

/**
 * Counts a failed sign-in from `ip` in a window of `windowSeconds`; returns the failures in the current window.
 */
export async function recordIpFailure(db: Queryable, ip: string, windowSeconds: number): Promise<number> {
  const { rows } = await db.query<{ failures: number }>(
    `insert into login_failures_by_ip (ip, window_start, failures) values ($1, now(), 1)
     on conflict (ip) do update set
       failures = case when login_failures_by_ip.window_start < now() - make_interval(secs => $2::float8) then 1 else login_failures_by_ip.failures + 1 end,
       window_start = case when login_failures_by_ip.window_start < now() - make_interval(secs => $2::float8) then now() else login_failures_by_ip.window_start end
     returning failures`,
    [ip, windowSeconds],
  );
  return rows[0]!.failures;
}

export async function ipFailures(db: Queryable, ip: string, windowSeconds: number): Promise<number> {
  const { rows } = await db.query<{ failures: number }>(
    `select failures from login_failures_by_ip where ip = $1 and window_start >= now() - make_interval(secs => $2::float8)`,
    [ip, windowSeconds],
  );
  return rows[0]?.failures ?? 0;
}

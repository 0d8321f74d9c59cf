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

/** A row of `accounts` as Postgres returns it (other statements may add columns). */
export interface AccountRow {
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

export const toAccountRecord = (row: AccountRow): AccountRecord => ({
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

/** The `accounts` table (second factors: second-factors.ts; lockout counters: lockout.ts). */
export async function findAccountById(db: Queryable, id: string): Promise<AccountRecord | undefined> {
  const { rows } = await db.query<AccountRow>('select * from accounts where id = $1', [id]);
  return rows[0] && toAccountRecord(rows[0]);
}

/** The accounts of `ids`, one per id asked for (undefined where there is none), each caller's a record of its own. */
export async function findAccountsById(db: Queryable, ids: readonly string[]): Promise<(AccountRecord | undefined)[]> {
  const { rows } = await db.query<AccountRow>('select * from accounts where id = any($1::text[])', [[...new Set(ids)]]);
  const byId = new Map(rows.map((row) => [row.id, row]));
  const shared = ids.length > byId.size;
  return ids.map((id) => {
    const row = byId.get(id);
    // Two requests asking for one account each get their own copy, nested claims included.
    return row && toAccountRecord(shared ? structuredClone(row) : row);
  });
}

export async function findAccountByUsername(db: Queryable, username: string): Promise<AccountRecord | undefined> {
  const { rows } = await db.query<AccountRow>('select * from accounts where lower(username) = lower($1)', [username]);
  return rows[0] && toAccountRecord(rows[0]);
}

export async function listAccounts(db: Queryable): Promise<AccountRecord[]> {
  const { rows } = await db.query<AccountRow>('select * from accounts order by lower(username)');
  return rows.map(toAccountRecord);
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

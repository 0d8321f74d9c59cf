import type { Queryable } from './database.ts';

/** The `activation_codes` table: at most one live code per account, stored as a keyed hash. */
export async function setActivationCode(
  db: Queryable,
  accountId: string,
  codeHash: string,
  ttlSeconds: number,
): Promise<Date> {
  const { rows } = await db.query<{ expires_at: Date }>(
    `insert into activation_codes (account_id, code_hash, expires_at)
     values ($1, $2, now() + make_interval(secs => $3::float8))
     on conflict (account_id) do update
       set code_hash = excluded.code_hash, expires_at = excluded.expires_at, created_at = now()
     returning expires_at`,
    [accountId, codeHash, ttlSeconds],
  );
  return rows[0]!.expires_at;
}

/**
 * Uses the account's activation code up when `allowed` (the password was right and the attempt reserved) and it
 * matches and has not expired: one conditional DELETE, so of parallel attempts with the code at most one wins.
 * The statement runs whatever `allowed` says, so a wrong password costs the same time as a right one.
 */
export async function consumeActivationCode(
  db: Queryable,
  accountId: string,
  codeHash: string,
  allowed: boolean,
): Promise<boolean> {
  const { rowCount } = await db.query(
    'delete from activation_codes where $3::boolean and account_id = $1 and code_hash = $2 and expires_at > now()',
    [accountId, codeHash, allowed],
  );
  return rowCount === 1;
}

/** Every live activation code's expiry, by account (for `users list`: one query, not one per person). */
export async function activationCodeExpiries(db: Queryable): Promise<Map<string, Date>> {
  const { rows } = await db.query<{ account_id: string; expires_at: Date }>(
    'select account_id, expires_at from activation_codes where expires_at > now()',
  );
  return new Map(rows.map((row) => [row.account_id, row.expires_at]));
}

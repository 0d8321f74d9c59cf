import { inTransaction, type Queryable } from './database.ts';

/* The second factors kept with an account: its TOTP authenticator (in `accounts`) and `recovery_codes`. */

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
 * operator issued a new one since (`users reset-mfa`), which ends every enrolment begun before it. One statement, so
 * the authenticator and its codes are stored together on any connection.
 */
export async function enrolFirstTotp(
  db: Queryable,
  id: string,
  secretEncrypted: string,
  step: number,
  codeHashes: string[],
): Promise<boolean> {
  const { rows } = await db.query<{ enrolled: boolean }>(
    `with enrolled as (
       update accounts set totp_secret_encrypted = $2, totp_last_step = $3, updated_at = now()
       where id = $1 and status = 'active' and totp_secret_encrypted is null
         and not exists (select 1 from activation_codes c where c.account_id = accounts.id)
       returning id
     ), old as (
       delete from recovery_codes where account_id in (select id from enrolled)
     ), codes as (
       insert into recovery_codes (account_id, code_hash, scheme) select id, unnest($4::text[]), 'hmac' from enrolled
     )
     select exists (select 1 from enrolled) as enrolled`,
    [id, secretEncrypted, step, codeHashes],
  );
  return rows[0]!.enrolled;
}

/**
 * Locks the account row, so that of two replacements of one account's second factors (two tabs confirming a
 * re-enrolment, two regenerations of recovery codes) one waits for the other. The statement after it then takes a
 * snapshot that sees the codes the other one committed and deletes them too; inside one statement the delete would
 * work from the snapshot taken before the wait and leave both sets valid.
 */
async function lockAccount(tx: Queryable, id: string): Promise<void> {
  await tx.query('select 1 from accounts where id = $1 for update', [id]);
}

/**
 * Replaces the authenticator of a signed-in person (account area re-enrolment) and their recovery codes: only the
 * last replacement's codes stay valid.
 */
export function replaceTotp(
  db: Queryable,
  id: string,
  secretEncrypted: string,
  step: number,
  codeHashes: string[],
): Promise<void> {
  return inTransaction(db, async (tx) => {
    await lockAccount(tx, id);
    await tx.query(
      `with account as (
         update accounts set totp_secret_encrypted = $2, totp_last_step = $3, updated_at = now() where id = $1
       ), old as (
         delete from recovery_codes where account_id = $1
       )
       insert into recovery_codes (account_id, code_hash, scheme) select $1, unnest($4::text[]), 'hmac'`,
      [id, secretEncrypted, step, codeHashes],
    );
  });
}

/** New recovery codes (keyed hashes) replace every old one: only the last regeneration's codes stay valid. */
export function replaceRecoveryCodes(db: Queryable, id: string, codeHashes: string[]): Promise<void> {
  return inTransaction(db, async (tx) => {
    await lockAccount(tx, id);
    await tx.query(
      `with old as (delete from recovery_codes where account_id = $1)
       insert into recovery_codes (account_id, code_hash, scheme) select $1, unnest($2::text[]), 'hmac'`,
      [id, codeHashes],
    );
  });
}

/** The account has no authenticator and no recovery codes afterwards (`users reset-mfa`). */
export function resetMfa(db: Queryable, id: string): Promise<void> {
  return inTransaction(db, async (tx) => {
    await lockAccount(tx, id);
    await tx.query(
      `with codes as (delete from recovery_codes where account_id = $1)
       update accounts set totp_secret_encrypted = null, totp_last_step = null, updated_at = now() where id = $1`,
      [id],
    );
  });
}

/** Replaces every recovery code stored as a plain SHA-256 by `wrap` of it (scheme 'hmac-sha256'), a batch at a time. */
export async function rewrapSha256RecoveryCodes(
  tx: Queryable,
  wrap: (sha256: string) => string,
  batch: number,
): Promise<number> {
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
  const { rows } = await db.query<{ n: number }>(
    'select count(*)::int as n from recovery_codes where account_id = $1 and used_at is null',
    [accountId],
  );
  return rows[0]?.n ?? 0;
}

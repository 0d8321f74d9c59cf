import type { Queryable } from './database.ts';

/** Holds `usernameHash` back for `seconds` after an account is erased. */
export async function retireUsername(db: Queryable, usernameHash: string, seconds: number): Promise<void> {
  if (seconds <= 0) return;
  await db.query(
    `insert into retired_usernames (username_hash, until) values ($1, now() + make_interval(secs => $2::float8))
     on conflict (username_hash) do update set until = excluded.until`,
    [usernameHash, seconds],
  );
}

/** When the username becomes available again, or undefined if it is available now. */
export async function retiredUntil(db: Queryable, usernameHash: string): Promise<Date | undefined> {
  const { rows } = await db.query<{ until: Date }>(
    'select until from retired_usernames where username_hash = $1 and until > now()',
    [usernameHash],
  );
  return rows[0]?.until;
}

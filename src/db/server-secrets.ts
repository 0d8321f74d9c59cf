import type { Queryable } from './database.ts';

/** The `server_secrets` table: named values, each set once and never changed. */
export async function storedSecret(db: Queryable, name: string): Promise<string | undefined> {
  const { rows } = await db.query<{ value: string }>('select value from server_secrets where name = $1', [name]);
  return rows[0]?.value;
}

/** Stores `value` under `name` unless a value is there already; returns the stored one, so concurrent callers agree. */
export async function storeSecretOnce(db: Queryable, name: string, value: string): Promise<string> {
  await db.query('insert into server_secrets (name, value) values ($1, $2) on conflict (name) do nothing', [
    name,
    value,
  ]);
  return (await storedSecret(db, name))!;
}

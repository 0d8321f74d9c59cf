import type { Queryable } from './database.ts';

/** The `server_issuer` table: the issuer the server last started with, for the CLI. */
export async function recordIssuer(db: Queryable, issuer: string): Promise<void> {
  await db.query(
    `insert into server_issuer (issuer) values ($1)
     on conflict (singleton) do update set issuer = excluded.issuer, recorded_at = now()`,
    [issuer],
  );
}

/** The issuer the server last started with; undefined before any server started on this database. */
export async function recordedIssuer(db: Queryable): Promise<string | undefined> {
  const { rows } = await db.query<{ issuer: string }>('select issuer from server_issuer');
  return rows[0]?.issuer;
}

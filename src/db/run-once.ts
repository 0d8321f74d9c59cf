import type { Database, Queryable } from './database.ts';

/**
 * Runs `work` once per database, at a start: under an advisory lock, so processes starting together take turns,
 * and then records `marker` in `server_secrets` (its value is no secret, it only says the step ran), so later starts
 * skip it after one select. `work` returns how many rows it changed.
 */
export async function runOnce(db: Database, marker: string, work: (tx: Queryable) => Promise<number>): Promise<number> {
  const seen = async (q: Queryable) =>
    ((await q.query('select 1 from server_secrets where name = $1', [marker])).rowCount ?? 0) > 0;
  if (await seen(db)) return 0;
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock(hashtext($1))', [marker]);
    if (await seen(tx)) return 0;
    const changed = await work(tx);
    await tx.query(`insert into server_secrets (name, value) values ($1, 'done') on conflict (name) do nothing`, [
      marker,
    ]);
    return changed;
  });
}

import type { Queryable } from './database.ts';

export interface WindowCount {
  /** Requests counted in the current window, this one included. */
  hits: number;
  /** When the current window ends. */
  resetAt: Date;
}

/**
 * Counts one request against `key` in a fixed window of `windowSeconds`, atomically (one statement), so every Kluis
 * process sharing the database shares the count.
 */
export async function countHit(db: Queryable, key: string, windowSeconds: number): Promise<WindowCount> {
  const { rows } = await db.query<{ hits: number; reset_at: Date }>(
    `insert into rate_limits as r (key, window_start, hits) values ($1, now(), 1)
     on conflict (key) do update set
       hits = case when r.window_start <= now() - make_interval(secs => $2::float8) then 1 else r.hits + 1 end,
       window_start = case when r.window_start <= now() - make_interval(secs => $2::float8) then now() else r.window_start end
     returning hits, window_start + make_interval(secs => $2::float8) as reset_at`,
    [key, windowSeconds],
  );
  return { hits: rows[0]!.hits, resetAt: rows[0]!.reset_at };
}

/** Deletes counters whose window ended long ago (called by the sweeper). */
export async function sweepRateLimits(db: Queryable, olderThanSeconds: number): Promise<number> {
  const { rowCount } = await db.query('delete from rate_limits where window_start < now() - make_interval(secs => $1::float8)', [olderThanSeconds]);
  return rowCount ?? 0;
}

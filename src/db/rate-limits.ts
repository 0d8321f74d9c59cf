import type { Queryable } from './database.ts';

export interface WindowCount {
  /** Requests counted in the current window, this one included. */
  hits: number;
  /** When the current window ends. */
  resetAt: Date;
}

export interface KeyCount extends WindowCount {
  key: string;
}

/**
 * Fixed-window request counters shared by every Kluis process on the database (the rate limits). A window starts
 * with a key's first hit after the previous window ended and lasts `windowSeconds`.
 */
export interface RateLimitStore {
  /** Counts one request against `key`, atomically, and returns the count of its current window. */
  hit(key: string, windowSeconds: number): Promise<WindowCount>;
  /** The current windows' counts of `keys`, without counting; a key with no hits in its window is left out. */
  peek(keys: string[], windowSeconds: number): Promise<KeyCount[]>;
}

/** The counters in the `rate_limits` table: one row per key, reset in the same statement that counts. */
export class PostgresRateLimits implements RateLimitStore {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async hit(key: string, windowSeconds: number): Promise<WindowCount> {
    const { rows } = await this.#db.query<{ hits: number; reset_at: Date }>(
      `insert into rate_limits as r (key, window_start, hits) values ($1, now(), 1)
       on conflict (key) do update set
         hits = case when r.window_start <= now() - make_interval(secs => $2::float8) then 1 else r.hits + 1 end,
         window_start = case when r.window_start <= now() - make_interval(secs => $2::float8)
           then now() else r.window_start end
       returning hits, window_start + make_interval(secs => $2::float8) as reset_at`,
      [key, windowSeconds],
    );
    return { hits: rows[0]!.hits, resetAt: rows[0]!.reset_at };
  }

  async peek(keys: string[], windowSeconds: number): Promise<KeyCount[]> {
    const { rows } = await this.#db.query<{ key: string; hits: number; reset_at: Date }>(
      `select key, hits, window_start + make_interval(secs => $2::float8) as reset_at from rate_limits
       where key = any($1) and window_start > now() - make_interval(secs => $2::float8)`,
      [keys, windowSeconds],
    );
    return rows.map((row) => ({ key: row.key, hits: row.hits, resetAt: row.reset_at }));
  }
}

/** Deletes counters whose window ended long ago (called by the sweeper). */
export async function sweepRateLimits(db: Queryable, olderThanSeconds: number): Promise<number> {
  const { rowCount } = await db.query(
    'delete from rate_limits where window_start < now() - make_interval(secs => $1::float8)',
    [olderThanSeconds],
  );
  return rowCount ?? 0;
}

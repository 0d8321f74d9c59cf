import type { Queryable } from './database.ts';
import { GroupCommit } from './group-commit.ts';

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

/**
 * The counters in the `rate_limits` table: one row per key, reset in the same statement that counts. Hits are
 * group-committed: the hits of every request in flight on this process go out as one statement (one row update per
 * key however many requests counted against it), and each request gets its exact count, as if they had been counted
 * one after another in the order they were submitted.
 */
export class PostgresRateLimits implements RateLimitStore {
  readonly #db: Queryable;
  readonly #hits = new Map<number, GroupCommit<string, WindowCount>>();

  constructor(db: Queryable) {
    this.#db = db;
  }

  hit(key: string, windowSeconds: number): Promise<WindowCount> {
    let hits = this.#hits.get(windowSeconds);
    if (!hits) {
      hits = new GroupCommit((keys) => countHits(this.#db, keys, windowSeconds));
      this.#hits.set(windowSeconds, hits);
    }
    return hits.submit(key);
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

async function countHits(db: Queryable, keys: readonly string[], windowSeconds: number): Promise<WindowCount[]> {
  const { rows } = await db.query<{ key: string; hits: number; reset_at: Date }>(
    `insert into rate_limits as r (key, window_start, hits)
     select key, now(), count(*)::int from unnest($1::text[]) as k(key) group by key order by key
     on conflict (key) do update set
       hits = case when r.window_start <= now() - make_interval(secs => $2::float8)
         then excluded.hits else r.hits + excluded.hits end,
       window_start = case when r.window_start <= now() - make_interval(secs => $2::float8)
         then now() else r.window_start end
     returning key, hits, window_start + make_interval(secs => $2::float8) as reset_at`,
    [keys, windowSeconds],
  );
  const counts = new Map(rows.map((row) => [row.key, row]));
  const added = new Map<string, number>();
  for (const key of keys) added.set(key, (added.get(key) ?? 0) + 1);
  // A key hit n times in the batch ends at `hits`: its callers, in order, get hits - n + 1 ... hits.
  const seen = new Map<string, number>();
  return keys.map((key) => {
    const row = counts.get(key)!;
    const before = seen.get(key) ?? 0;
    seen.set(key, before + 1);
    return { hits: row.hits - added.get(key)! + before + 1, resetAt: row.reset_at };
  });
}

/** Deletes counters whose window ended long ago (called by the sweeper). */
export async function sweepRateLimits(db: Queryable, olderThanSeconds: number): Promise<number> {
  const { rowCount } = await db.query(
    'delete from rate_limits where window_start < now() - make_interval(secs => $1::float8)',
    [olderThanSeconds],
  );
  return rowCount ?? 0;
}

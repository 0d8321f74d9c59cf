import type { KeyCount, WindowCount } from '../db/rate-limits.ts';

/** How long a count this process learned stands in for a fresh read, in milliseconds. */
const FRESH_MS = 1000;

/**
 * The client-endpoint counts this process last learned from Postgres (every counted hit returns the shared count).
 * A request whose keys were all seen within FRESH_MS, with room to spare below the limit, skips the read: the
 * other processes' hits in that second are the only ones it cannot see, and the spare room (a tenth of the limit)
 * absorbs them. Near the limit, or with anything older, the read happens and the decision is exact.
 */
export class RecentCounts {
  readonly #seen = new Map<string, { hits: number; resetAt: number; learnedAt: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  comfortablyBelow(keys: string[], limit: number): boolean {
    const now = this.#now();
    const spare = Math.max(2, Math.ceil(limit / 10));
    return keys.every((key) => {
      const seen = this.#seen.get(key);
      if (!seen || now - seen.learnedAt > FRESH_MS) return false;
      return seen.resetAt <= now || seen.hits + spare < limit;
    });
  }

  learn(key: string, count: WindowCount): void {
    if (this.#seen.size > 10_000) this.#seen.clear(); // bounded: many addresses must not grow it without end
    this.#seen.set(key, { hits: count.hits, resetAt: count.resetAt.getTime(), learnedAt: this.#now() });
  }

  /** A key without a row in the current window has no hits yet. */
  learnPeek(keys: string[], counts: KeyCount[], windowSeconds: number): void {
    for (const key of keys) {
      const count = counts.find((c) => c.key === key);
      this.learn(key, count ?? { hits: 0, resetAt: new Date(this.#now() + windowSeconds * 1000) });
    }
  }
}

/** Retry-After for a refusal (RFC 9110 10.2.3): whole seconds until the window ends, at least one. */
export function retryAfterSeconds(resetAt: Date, now: number = Date.now()): number {
  return Math.max(1, Math.ceil((resetAt.getTime() - now) / 1000));
}

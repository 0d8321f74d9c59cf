import type { Logger } from '../log/logger.ts';
import type { Database } from './database.ts';
import { sweepRateLimits } from './rate-limits.ts';

/**
 * Deletes expired rows in batches of `batchSize`, at most `maxBatches` per call so one sweep never holds
 * the table for long; SKIP LOCKED lets several processes sweep at once. Returns the number deleted.
 */
export async function sweepExpired(db: Database, batchSize: number, maxBatches = 100): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < maxBatches; batch += 1) {
    const { rowCount } = await db.query(
      `delete from oidc_models where ctid in (
         select ctid from oidc_models where expires_at <= now() limit $1 for update skip locked)`,
      [batchSize],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) break;
  }
  return total;
}

/** Sweeps every `seconds`; a failed sweep (database down) is retried at the next tick. */
export function startSweeper(db: Database, { interval, batchSize }: { interval: number; batchSize: number }, log: Logger): () => void {
  const timer = setInterval(() => {
    sweepExpired(db, batchSize)
      // Rate-limit counters are kept one hour, longer than any window.
      .then(async (deleted) => deleted + (await sweepRateLimits(db, 3600)))
      .then((deleted) => deleted && log.debug({ deleted }, 'expired rows swept'))
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'sweep failed'));
  }, interval * 1000);
  timer.unref();
  return () => clearInterval(timer);
}

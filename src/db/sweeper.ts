import type { Logger } from '../log/logger.ts';
import type { Database } from './database.ts';
import { sweepRateLimits } from './rate-limits.ts';

/** What the sweeper keeps, and for how long. */
export interface SweepSettings {
  interval: number;
  batchSize: number;
  /** Seconds a person's security activity (sign-ins with address and device) is kept. */
  securityEventRetention: number;
  /** LOGIN_IP_WINDOW: a per-address failure count older than this no longer throttles anything. */
  loginIpWindow: number;
}

/**
 * Deletes expired rows in batches of `batchSize`, at most `maxBatches` per call so one sweep never holds
 * the table for long; SKIP LOCKED lets several processes sweep at once. Returns the number deleted.
 */
export async function sweepExpired(db: Database, batchSize: number, maxBatches = 100): Promise<number> {
  return deleteInBatches(db, 'oidc_models', 'expires_at <= now()', [], batchSize, maxBatches);
}

/**
 * Rows that outlived their purpose (GDPR Art 5(1)(c) and (e): data minimisation, storage limitation): per-address
 * failure counts whose window ended (they hold client addresses), usage records of grants that no longer exist,
 * usernames whose quarantine ended, previous client secrets past their grace, and security activity older than
 * its retention. Returns the number deleted.
 */
export async function sweepRetained(db: Database, settings: SweepSettings, maxBatches = 100): Promise<number> {
  const { batchSize } = settings;
  const sweeps: [string, string, unknown[]][] = [
    ['login_failures_by_ip', 'window_start < now() - make_interval(secs => $2::float8)', [settings.loginIpWindow]],
    [
      'grant_usage',
      `not exists (select 1 from oidc_models g where g.model = 'Grant' and g.id = grant_usage.grant_id)`,
      [],
    ],
    ['retired_usernames', 'until <= now()', []],
    ['previous_client_secrets', 'expires_at <= now()', []],
    ['security_events', 'occurred_at < now() - make_interval(secs => $2::float8)', [settings.securityEventRetention]],
  ];
  let total = 0;
  for (const [table, condition, params] of sweeps)
    total += await deleteInBatches(db, table, condition, params, batchSize, maxBatches);
  return total;
}

/** `condition` uses $2, $3, … for `params` ($1 is the batch size). Table and condition are constants of this file. */
async function deleteInBatches(
  db: Database,
  table: string,
  condition: string,
  params: unknown[],
  batchSize: number,
  maxBatches: number,
): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < maxBatches; batch += 1) {
    const { rowCount } = await db.query(
      `delete from ${table}
       where ctid in (select ctid from ${table} where ${condition} limit $1 for update skip locked)`,
      [batchSize, ...params],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) break;
  }
  return total;
}

/** Sweeps every `interval` seconds; a failed sweep (database down) is retried at the next tick. */
export function startSweeper(db: Database, settings: SweepSettings, log: Logger): () => void {
  const timer = setInterval(() => {
    sweepExpired(db, settings.batchSize)
      // Rate-limit counters are kept one hour, longer than any window.
      .then(async (deleted) => deleted + (await sweepRateLimits(db, 3600)) + (await sweepRetained(db, settings)))
      .then((deleted) => deleted && log.debug({ deleted }, 'expired rows swept'))
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'sweep failed'));
  }, settings.interval * 1000);
  timer.unref();
  return () => clearInterval(timer);
}

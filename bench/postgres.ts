import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/db/embedded.ts';
import type { Logger } from '../src/log/logger.ts';
import { processTree, treeTicks } from './measure.ts';

/** Postgres's own counters, read before and after a timed window. */
export interface DatabaseCounters {
  /** CPU ticks of the whole server (postmaster, backends, WAL writer, …); undefined on a server others share. */
  ticks?: number;
  /** Statements executed in the bench database (pg_stat_statements `calls`); undefined without the extension. */
  statements?: number;
  /** Transactions that wrote (transaction ids assigned so far); undefined on a server others share. */
  commits?: number;
  /**
   * Rows inserted, updated and deleted in the bench database so far (pg_stat_database; a busy backend reports its
   * counts at most once a second, so a window's figure is within about a second of its edges).
   */
  rows?: number;
  /** Calls so far of each statement (its normalised text) and their execution time in ms, where counted. */
  calls?: Map<string, { calls: number; ms: number }>;
}

export interface DatabaseProbe {
  read(): Promise<DatabaseCounters>;
  /** What the probe can count, for the report. */
  readonly notes: string[];
  close(): Promise<void>;
}

/**
 * The embedded PostgreSQL with pg_stat_statements loaded: the library must be in shared_preload_libraries at start,
 * which the server's own start does not set, so it is set with ALTER SYSTEM and the server restarted once.
 */
export async function startEmbeddedWithStatements(dir: string, port: number, log: Logger): Promise<EmbeddedServer> {
  const first = await startEmbeddedPostgres(dir, port, log);
  const admin = new pg.Client({ connectionString: first.url });
  await admin.connect();
  await admin.query(`alter system set shared_preload_libraries = 'pg_stat_statements'`);
  await admin.end();
  await first.stop();
  return startEmbeddedPostgres(dir, port, log);
}

/**
 * Counters of the embedded server: it serves the bench alone, so its whole process tree and its transaction counter
 * are the bench's. The probe sits in the `postgres` database, so its own reads are not among the bench database's
 * statements.
 *
 * Commits are counted as transaction ids assigned (`pg_current_snapshot()`'s xmax), which moves at once; the
 * `pg_stat_database.xact_commit` of other backends reaches shared memory at most once a second while they are busy
 * and up to 10 s after they go idle (PostgreSQL's PGSTAT_MIN_INTERVAL and PGSTAT_IDLE_INTERVAL), far too late for a
 * window of 2 s. A read-only transaction gets no id and writes no commit record: it is not counted, and costs no WAL
 * flush either; nor does one that wrote only unlogged tables, which is counted.
 */
export async function embeddedProbe(server: EmbeddedServer, dataDir: string, benchUrl: string): Promise<DatabaseProbe> {
  const postmaster = Number((await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const adminUrl = new URL(server.url);
  adminUrl.pathname = '/postgres';
  const client = new pg.Client({ connectionString: adminUrl.toString() });
  await client.connect();
  await client.query('create extension if not exists pg_stat_statements');
  const database = new URL(benchUrl).pathname.slice(1);
  const { rows } = await client.query<{ oid: number }>('select oid from pg_database where datname = $1', [database]);
  const oid = rows[0]!.oid;
  return {
    notes: [
      "Postgres CPU: the embedded server's whole process tree (postmaster and its children) from /proc",
      'statements: pg_stat_statements calls in the bench database (top-level statements a client sent, BEGIN and COMMIT included)',
      'commits: transactions that wrote (transaction ids assigned); those that wrote a logged table wait for a WAL ' +
        'flush at commit, those that wrote only unlogged ones (rate_limits) do not',
    ],
    async read() {
      const {
        rows: [row],
      } = await client.query<{ calls: string; next: string; rows: string }>(
        `select (select coalesce(sum(calls), 0) from pg_stat_statements where dbid = $1)::text as calls,
                pg_snapshot_xmax(pg_current_snapshot())::text as next,
                (select tup_inserted + tup_updated + tup_deleted from pg_stat_database where datid = $1)::text as rows`,
        [oid],
      );
      const { rows: each } = await client.query<{ query: string; calls: string; ms: number }>(
        'select query, calls::text, total_exec_time as ms from pg_stat_statements where dbid = $1',
        [oid],
      );
      const calls = new Map<string, { calls: number; ms: number }>();
      for (const { query, calls: n, ms } of each) {
        const text = query.replace(/\s+/g, ' ').slice(0, 90);
        const seen = calls.get(text) ?? { calls: 0, ms: 0 };
        calls.set(text, { calls: seen.calls + Number(n), ms: seen.ms + ms });
      }
      return {
        ticks: treeTicks(processTree(postmaster)),
        statements: Number(row!.calls),
        commits: Number(row!.next),
        rows: Number(row!.rows),
        calls,
      };
    },
    close: () => client.end(),
  };
}

/** On a server at DATABASE_URL, shared with whatever else runs there, none of these counters is the bench's alone. */
export function sharedServerProbe(): DatabaseProbe {
  return {
    notes: [
      'Postgres CPU, statements and commits: not measured on a server at DATABASE_URL (others share it); unset DATABASE_URL',
    ],
    read: async () => ({}),
    close: async () => undefined,
  };
}

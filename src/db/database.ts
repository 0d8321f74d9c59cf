import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../log/logger.ts';
import {
  DatabaseUnavailable,
  isConnectionFailure,
  isUniqueViolation,
  isUnstorableText,
  UniqueViolation,
  UnstorableInput,
} from './errors.ts';

export type Row = Record<string, unknown>;
export type Queryable = Pick<Database, 'query'>;

/**
 * The one pool every part of Kluis shares. Connection failures surface as {@link DatabaseUnavailable}
 * so the HTTP layer can answer 503 and recover on its own once Postgres is back: the pool opens new
 * connections on demand and drops broken ones.
 */
export class Database {
  readonly pool: pg.Pool;
  #closing = false;

  constructor(connectionString: string, options: { max?: number; log?: Logger } = {}) {
    this.pool = new pg.Pool({
      connectionString,
      max: options.max ?? 10,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      // A request must never hang on a stuck statement.
      statement_timeout: 15_000,
      application_name: 'kluis',
      // Plan each named statement once per connection. Under the default (auto) a perf profile of the backends
      // under the refresh grant showed the planner on the hot path (Postgres keeps re-planning a statement whose
      // generic plan it costs above its custom ones); with this setting Postgres's CPU per refresh fell by 27–30%.
      // A generic plan still follows the table's statistics: ANALYZE (autovacuum's included) invalidates it.
      options: '-c plan_cache_mode=force_generic_plan',
    });
    // An idle client losing its server (Postgres restarting) must not crash the process.
    this.pool.on('error', (err) => {
      if (!this.#closing) options.log?.warn({ err: err.message }, 'database connection lost');
    });
  }

  async query<R extends Row = Row>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      // Named, so each connection parses and plans a statement once and then only binds values (the hot paths run
      // the same few statements thousands of times a second).
      return await this.pool.query<R>({ name: statementName(text), text, values });
    } catch (err) {
      throw translate(err);
    }
  }

  /** A dedicated connection (release it!); failing to get one is {@link DatabaseUnavailable}. */
  async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw translate(err);
    }
  }

  /** Runs `work` in one transaction on one connection; rolls back on any error. */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.connect();
    const tx: Queryable = {
      query: async <R extends Row = Row>(text: string, values: unknown[] = []) => {
        try {
          return await client.query<R>(text, values);
        } catch (err) {
          throw translate(err);
        }
      },
    };
    let broken = false;
    try {
      await tx.query('begin');
      const result = await work(tx);
      await tx.query('commit');
      return result;
    } catch (err) {
      broken = err instanceof DatabaseUnavailable;
      if (!broken) await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async ping(): Promise<void> {
    await this.query('select 1');
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.pool.end();
  }
}

/**
 * Runs `work` in one transaction: a new one when `db` is the pool, the caller's own when `db` is already a
 * transaction's `tx` (a store built on it), so a store's multi-statement step is atomic either way.
 */
export function inTransaction<T>(db: Queryable, work: (tx: Queryable) => Promise<T>): Promise<T> {
  return db instanceof Database ? db.transaction(work) : work(db);
}

const names = new Map<string, string>();
function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `k${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    if (names.size < 10_000) names.set(text, name);
  }
  return name;
}

function translate(err: unknown): unknown {
  if (err instanceof DatabaseUnavailable) return err;
  if (isConnectionFailure(err))
    return new DatabaseUnavailable(`the database is unavailable (${(err as Error).message})`, { cause: err });
  if (isUnstorableText(err))
    return new UnstorableInput('the request contains characters that are not allowed (such as NUL)', { cause: err });
  if (isUniqueViolation(err)) return new UniqueViolation((err as { constraint?: string }).constraint, { cause: err });
  return err;
}

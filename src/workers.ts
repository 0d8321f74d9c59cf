import cluster, { type Worker } from 'node:cluster';
import type { Config } from './config/env.ts';
import { type Connection, connect } from './db/connect.ts';
import { refuseDemoDataInProduction } from './demo/production-guard.ts';
import type { Logger } from './log/logger.ts';

/**
 * What a worker tells the supervisor before it exits when starting it again cannot help (its HTTP port is held by
 * another process): the one line for the operator.
 */
interface CannotStart {
  kluis: 'cannot-start';
  line: string;
}

function isCannotStart(message: unknown): message is CannotStart {
  const { kluis, line } = (message ?? {}) as Partial<CannotStart>;
  return kluis === 'cannot-start' && typeof line === 'string';
}

/**
 * In a worker: hands `line` to the supervisor, which prints it once, stops every worker and exits with status 1
 * instead of starting this one again (and again); then this worker exits with status 1.
 */
export function workerCannotStart(line: string): Promise<never> {
  return new Promise<never>(() => {
    const message: CannotStart = { kluis: 'cannot-start', line };
    if (!process.send) process.exit(1);
    process.send(message, undefined, {}, () => process.exit(1));
  });
}

/**
 * WORKERS > 1: this process only supervises. It opens the database once (starting the embedded PostgreSQL if there
 * is no DATABASE_URL, and applying migrations), then forks WORKERS server processes that share the HTTP port
 * (Node cluster) and connect to that database. All state is in Postgres, so it does not matter which worker answers.
 * A worker that dies is replaced, unless it said it cannot start (workerCannotStart): then every worker is stopped
 * and this process exits with status 1. SIGTERM/SIGINT drain every worker, then stop the database if this process
 * started it.
 */
export async function superviseWorkers(config: Config, log: Logger): Promise<void> {
  let stopping = false;
  const opened = openDatabase(config, log);
  const stop = (exitCode: number, why: Record<string, unknown>) => {
    if (stopping) return;
    stopping = true;
    log.info(why, 'stopping workers');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    const exited = workers.map(
      (w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))),
    );
    for (const w of workers) w.process.kill('SIGTERM');
    Promise.all(exited)
      .then(() => opened)
      .then((connection) => connection.close())
      .then(
        () => process.exit(exitCode),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  // Taken before the database opens: a SIGTERM while the embedded Postgres starts waits for it, then stops it.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(0, { signal }));
  const connection = await opened;
  if (stopping) return;

  const fork = (id: number): Worker => {
    const env: Record<string, string> = { DATABASE_URL: connection.url, KLUIS_WORKER: String(id) };
    // The demo follows the supervisor's decision (workers always have DATABASE_URL, which would turn DEMO=auto off).
    env.DEMO = config.demo ? 'on' : 'off';
    const worker = cluster.fork(env);
    worker.on('message', (message: unknown) => {
      if (!isCannotStart(message) || stopping) return;
      process.stderr.write(`kluis: ${message.line}\n`);
      stop(1, { reason: 'a worker cannot start', worker: id });
    });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      log.error({ worker: id, code, signal }, 'worker exited; starting a new one');
      // Its last message (cannot start) may arrive after its exit: it is read before the new worker is forked. Not
      // unref'd: when every worker died at once, this timer is what keeps the supervisor alive to start them again.
      setTimeout(() => stopping || fork(id), 1000);
    });
    return worker;
  };
  for (let id = 1; id <= config.workers; id += 1) fork(id);
  log.info({ workers: config.workers, database: connection.source }, 'kluis supervising workers');
}

/** The database, opened once for the workers: started (embedded) and migrated, its own pool closed again. */
async function openDatabase(config: Config, log: Logger): Promise<Connection> {
  const connection = await connect(config, log);
  // Refused here too, once, rather than by every worker as it is forked (and forked again).
  if (config.production) {
    await refuseDemoDataInProduction(connection.db).catch(async (err: unknown) => {
      await connection.close();
      throw err;
    });
  }
  // The workers do not need the supervisor's own pool.
  await connection.db.close();
  return connection;
}

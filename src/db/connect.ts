import type { Config } from '../config/env.ts';
import type { Logger } from '../log/logger.ts';
import { Database } from './database.ts';
import { startEmbeddedPostgres } from './embedded.ts';
import { migrate } from './migrate.ts';

export interface Connection {
  db: Database;
  /** 'external' when DATABASE_URL is set; otherwise the embedded server this process started or joined. */
  source: 'external' | 'embedded';
  /** The connection URL in use (for worker processes joining this database). */
  url: string;
  /** Closes the pool and, when this process started it, the embedded Postgres. */
  close(): Promise<void>;
}

/** DATABASE_URL when given; otherwise the embedded PostgreSQL under KLUIS_DATA_DIR. Migrations are applied. */
export async function connect(config: Config, log: Logger, options: { migrate?: boolean } = {}): Promise<Connection> {
  const embedded = config.databaseUrl
    ? undefined
    : await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort, log);
  const db = new Database(config.databaseUrl ?? embedded!.url, { max: config.databasePoolMax, log });
  try {
    if (options.migrate !== false) {
      const applied = await migrate(db);
      for (const m of applied) log.info({ version: m.version, name: m.name }, 'migration applied');
    }
  } catch (err) {
    await db.close().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw err;
  }
  return {
    db,
    source: embedded ? 'embedded' : 'external',
    url: config.databaseUrl ?? embedded!.url,
    async close() {
      await db.close().catch(() => undefined);
      await embedded?.stop();
    },
  };
}

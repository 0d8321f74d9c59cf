import { startEmbeddedPostgres, type EmbeddedServer } from '../src/db/embedded.ts';
import { createLogger } from '../src/log/logger.ts';

/**
 * Tests need a PostgreSQL server to create their databases on: DATABASE_URL when given (CI uses the machine's),
 * otherwise an embedded one under .data/test, started once for the whole run.
 */
let embedded: EmbeddedServer | undefined;

export async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) return;
  embedded = await startEmbeddedPostgres('.data/test', Number(process.env.TEST_PG_PORT ?? 54339), createLogger('warn'));
  process.env.DATABASE_URL = embedded.url;
}

export async function globalTeardown(): Promise<void> {
  await embedded?.stop();
}

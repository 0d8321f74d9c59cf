import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';

export interface TestDatabase {
  url: string;
  db: Database;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests with `npm test` (test/global-setup.ts sets it)');
  return url;
}

/** A fresh, migrated database of its own on the test server, dropped at the end. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: serverUrl() });
  const name = `kluis_test_${randomBytes(6).toString('hex')}`;
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  const db = new Database(url.toString(), { max: 25 });
  if (options.migrate !== false) await migrate(db);
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.close().catch(() => undefined);
      const client = new pg.Client({ connectionString: serverUrl() });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

/** Runs `work` on a fresh, migrated database of its own, dropped afterwards whatever `work` did. */
export async function withTestDatabase<T>(work: (t: TestDatabase) => Promise<T>): Promise<T> {
  const t = await createTestDatabase();
  try {
    return await work(t);
  } finally {
    await t.drop();
  }
}

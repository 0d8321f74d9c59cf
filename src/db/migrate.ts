import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from './database.ts';
import { KluisError } from '../errors.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

// Any fixed 64-bit number works; every Kluis process uses the same one so only one migrates at a time.
const MIGRATION_LOCK = 0x6b6c756973; // "kluis"

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends KluisError {
  override name = 'MigrationError';
  readonly code = 'ERR_MIGRATION';
  override readonly status = 500;
}

/** Reads `NNNN_name.sql` files in version order. */
export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = /^(\d+)_([\w-]+)\.sql$/.exec(file);
    if (!match) throw new MigrationError(`migration file ${file} must be named NNNN_name.sql`);
    const sql = await readFile(path.join(dir, file), 'utf8');
    migrations.push({
      version: Number(match[1]),
      name: match[2]!,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  const versions = migrations.map((m) => m.version);
  if (new Set(versions).size !== versions.length)
    throw new MigrationError('two migration files share a version number');
  return migrations;
}

/**
 * Applies pending migrations in order, each in its own transaction, under a session advisory lock so that
 * processes starting together take turns. Returns the versions applied by this call (empty: nothing to do).
 * An applied migration whose file has since changed stops the run: migrations are append-only.
 */
export async function migrate(db: Database, dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const migrations = await readMigrations(dir);
  const client = await db.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      // Created only when missing: a server connecting as the restricted kluis_server role may not create tables,
      // and needs none when the operator has already applied the migrations.
      const { rows: exists } = await client.query<{ table: string | null }>(
        `select to_regclass('schema_migrations')::text as table`,
      );
      if (!exists[0]?.table)
        await client.query(`create table schema_migrations (
        version integer primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`);
      const { rows } = await client.query<{ version: number; checksum: string }>(
        'select version, checksum from schema_migrations',
      );
      const applied = new Map(rows.map((row) => [row.version, row.checksum]));
      const done: Migration[] = [];
      for (const migration of migrations) {
        const checksum = applied.get(migration.version);
        if (checksum !== undefined) {
          if (checksum !== migration.checksum) {
            throw new MigrationError(
              `migration ${migration.version}_${migration.name} was changed after it was applied; ` +
                'add a new migration instead',
            );
          }
          continue;
        }
        await client.query('begin');
        try {
          await client.query(migration.sql);
          await client.query('insert into schema_migrations (version, name, checksum) values ($1, $2, $3)', [
            migration.version,
            migration.name,
            migration.checksum,
          ]);
          await client.query('commit');
        } catch (err) {
          await client.query('rollback').catch(() => undefined);
          throw new MigrationError(
            `migration ${migration.version}_${migration.name} failed: ${(err as Error).message}`,
            { cause: err },
          );
        }
        done.push(migration);
      }
      return done;
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

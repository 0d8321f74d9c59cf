import assert from 'node:assert/strict';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { migrate, MigrationError, MIGRATIONS_DIR, readMigrations } from '../../src/db/migrate.ts';
import { Database } from '../../src/db/database.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/** A database of this test's own, dropped when it ends; migrated unless the test migrates it itself. */
async function databaseFor(context: TestContext, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const database = await createTestDatabase(options);
  context.after(() => database.drop());
  return database;
}

/** A copy of the migrations directory with 9000_add_table.sql added, as a release with a new migration ships it. */
async function withAddedMigration(sql = 'create table extra_table (id int);'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kluis-migrations-'));
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  await writeFile(path.join(dir, '9000_add_table.sql'), sql);
  return dir;
}

describe('migrations', () => {
  test('files are numbered and read in order', async () => {
    const migrations = await readMigrations();
    assert.ok(migrations.length >= 1);
    assert.deepEqual(
      migrations.map((m) => m.version),
      [...migrations.map((m) => m.version)].sort((a, b) => a - b),
    );
  });

  test('two processes migrating at once apply each migration exactly once', async (context) => {
    const t = await databaseFor(context, { migrate: false });
    const other = new Database(t.url);
    try {
      const [a, b] = await Promise.all([migrate(t.db), migrate(other)]);
      const all = await readMigrations();
      assert.equal(a.length + b.length, all.length, 'every migration applied by exactly one of them');
      const { rows } = await t.db.query<{ version: number }>('select version from schema_migrations order by version');
      assert.deepEqual(
        rows.map((r) => r.version),
        all.map((m) => m.version),
      );
    } finally {
      await other.close();
    }
  });

  test('running again is a no-op', async (context) => {
    const t = await databaseFor(context);
    assert.deepEqual(await migrate(t.db), []);
  });

  test('a pending migration is applied; a failing one is rolled back and reported by name', async (context) => {
    const t = await databaseFor(context);
    const dir = await withAddedMigration();
    assert.deepEqual(
      (await migrate(t.db, dir)).map((m) => m.version),
      [9000],
    );

    await writeFile(
      path.join(dir, '9001_broken.sql'),
      'create table half_done (id int); select nonsense from nowhere;',
    );
    await assert.rejects(
      migrate(t.db, dir),
      (err: unknown) => err instanceof MigrationError && /9001_broken failed/.test(err.message),
    );
    const { rows } = await t.db.query(`select to_regclass('half_done') as t`);
    assert.equal(rows[0]?.t, null, 'the failed migration left nothing behind');
  });

  test('an applied migration whose file changed stops the run', async (context) => {
    const t = await databaseFor(context);
    const dir = await withAddedMigration();
    assert.deepEqual(
      (await migrate(t.db, dir)).map((m) => m.version),
      [9000],
    );
    await writeFile(path.join(dir, '9000_add_table.sql'), 'create table extra_table (id int, changed int);');
    await assert.rejects(migrate(t.db, dir), /9000_add_table was changed after it was applied/);
  });

  test('the audit log refuses updates, deletes and truncation', async (context) => {
    const t = await databaseFor(context);
    await t.db.query(`insert into audit_events (type, actor) values ('server.error', 'system')`);
    await assert.rejects(t.db.query(`update audit_events set type = 'x'`), /append-only/);
    await assert.rejects(t.db.query(`delete from audit_events`), /append-only/);
    await assert.rejects(t.db.query(`truncate audit_events`), /append-only/);
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { schemaVersion } from '../../src/db/schema-version.ts';
import { createTestDatabase } from '../support/database.ts';

test('schemaVersion is that of the newest migration once all are applied', async (t) => {
  const database = await createTestDatabase({ migrate: false });
  t.after(() => database.drop());
  await migrate(database.db);
  const newest = Math.max(...(await readMigrations()).map((migration) => migration.version));
  assert.equal(await schemaVersion(database.db), newest);
});

test('schemaVersion is 0 while the migration table is empty', async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  await database.db.query('delete from schema_migrations');
  assert.equal(await schemaVersion(database.db), 0);
});

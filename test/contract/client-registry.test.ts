import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PgClientControlStore } from '../../src/db/client-controls.ts';
import { listClientMetadata, removeClientWithArtefacts } from '../../src/db/client-registry.ts';
import { PostgresAdapter } from '../../src/db/oidc-adapter.ts';
import { SecretBox } from '../../src/secrets/secret-box.ts';
import { createTestDatabase } from '../support/database.ts';

// The operator's questions about registered clients, against real Postgres: each test on a database of its own.
const box = SecretBox.fromMasterSecret('contract-test-master-secret-0123456789');

async function database(t: { after: (fn: () => Promise<void>) => void }) {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  return database.db;
}

test('listClientMetadata lists every client by id, disabled ones too, never a secret', async (t) => {
  const db = await database(t);
  const clients = new PostgresAdapter('Client', db, box);
  await clients.upsert('b-client', { client_id: 'b-client', client_secret: 'secret-b', client_name: 'B' });
  await clients.upsert('a-client', { client_id: 'a-client', client_name: 'A' });
  await new PgClientControlStore(db).disable('b-client');
  const listed = await listClientMetadata(db);
  assert.deepEqual(listed, [
    { client_id: 'a-client', client_name: 'A' },
    { client_id: 'b-client', client_name: 'B' },
  ]);
});

test('removeClientWithArtefacts removes the client, what it was issued and its controls; sessions stay', async (t) => {
  const db = await database(t);
  await new PostgresAdapter('Client', db, box).upsert('gone', { client_id: 'gone', client_secret: 's' });
  // Disabling first: it revokes what was issued before it, and removal must go further.
  await new PgClientControlStore(db).disable('gone');
  await new PostgresAdapter('AccessToken', db, box).upsert('at-1', { clientId: 'gone', grantId: 'g-1' }, 60);
  await new PostgresAdapter('Grant', db, box).upsert('g-1', { clientId: 'gone', accountId: 'p-1' }, 60);
  await new PostgresAdapter('AccessToken', db, box).upsert('at-2', { clientId: 'other' }, 60);
  await new PostgresAdapter('Session', db, box).upsert('s-1', { accountId: 'p-1', clientId: 'gone' }, 60);
  await new PgClientControlStore(db).keepPreviousSecret('gone', box.encrypt('old', 'client_secret'), 3600);

  assert.equal(await removeClientWithArtefacts(db, 'gone'), 2);
  assert.equal(await new PostgresAdapter('Client', db, box, { includeDisabled: true }).find('gone'), undefined);
  assert.ok(await new PostgresAdapter('AccessToken', db, box).find('at-2'), "another client's token stays");
  assert.ok(await new PostgresAdapter('Session', db, box).find('s-1'), 'the session stays');
  assert.deepEqual(await new PgClientControlStore(db).previousSecrets('gone'), []);
  const { rowCount } = await db.query('select 1 from disabled_clients where client_id = $1', ['gone']);
  assert.equal(rowCount, 0);
});

test('removeClientWithArtefacts of an unknown client removes nothing and says so', async (t) => {
  const db = await database(t);
  await new PostgresAdapter('AccessToken', db, box).upsert('at-1', { clientId: 'never-registered' }, 60);
  assert.equal(await removeClientWithArtefacts(db, 'never-registered'), undefined);
  assert.ok(await new PostgresAdapter('AccessToken', db, box).find('at-1'));
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eraseAccountRows } from '../../src/db/account-erasure.ts';
import { PgAccountStore } from '../../src/db/account-store.ts';
import { PostgresAdapter } from '../../src/db/oidc-adapter.ts';
import { retiredUntil } from '../../src/db/retired-usernames.ts';
import { SecretBox } from '../../src/secrets/secret-box.ts';
import { createTestDatabase } from '../support/database.ts';

// GDPR Art 17 at the storage level, against real Postgres: each test on a database of its own.
const box = SecretBox.fromMasterSecret('contract-test-master-secret-0123456789');

async function withPerson(t: { after: (fn: () => Promise<void>) => void }, id: string) {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  await new PgAccountStore(database.db).insert({
    id,
    username: `${id}-name`,
    email: null,
    passwordHash: 'not-a-real-hash',
    claims: { name: 'Erin' },
    totpSecretEncrypted: null,
  });
  return database.db;
}

test('eraseAccountRows deletes the account and what names it, holds the username back, keeps others', async (t) => {
  const db = await withPerson(t, 'erin');
  await new PostgresAdapter('Session', db, box).upsert('s-erin', { accountId: 'erin' }, 60);
  await new PostgresAdapter('Grant', db, box).upsert('g-erin', { accountId: 'erin', clientId: 'c' }, 60);
  await new PostgresAdapter('Session', db, box).upsert('s-other', { accountId: 'someone-else' }, 60);

  assert.equal(await eraseAccountRows(db, 'erin', { usernameHash: 'hash-of-erin', quarantineSeconds: 3600 }), true);
  assert.equal(await new PgAccountStore(db).findById('erin'), undefined);
  assert.equal(await new PostgresAdapter('Session', db, box).find('s-erin'), undefined);
  assert.equal(await new PostgresAdapter('Grant', db, box).find('g-erin'), undefined);
  assert.ok(await new PostgresAdapter('Session', db, box).find('s-other'));
  const until = await retiredUntil(db, 'hash-of-erin');
  assert.ok(until && until.getTime() > Date.now() + 3500_000);
});

test('eraseAccountRows of an unknown account reports it and holds no username back', async (t) => {
  const db = await withPerson(t, 'erin');
  assert.equal(
    await eraseAccountRows(db, 'nobody', { usernameHash: 'hash-of-nobody', quarantineSeconds: 3600 }),
    false,
  );
  assert.ok(await new PgAccountStore(db).findById('erin'));
  assert.equal(await retiredUntil(db, 'hash-of-nobody'), undefined);
});

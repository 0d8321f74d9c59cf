import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addResourceServer,
  findResourceServer,
  findResourceServers,
  listResourceServers,
  removeResourceServer,
  type ResourceServerRecord,
} from '../../src/db/resource-servers.ts';
import { withTestDatabase } from '../support/database.ts';

// The resource_servers store on real Postgres (migrations 0001 and 0013), each test on a database of its own.
const PAYMENTS: ResourceServerRecord = {
  identifier: 'https://api.bank.example/payments',
  scope: 'payments:read payments:write',
  accessTokenFormat: 'jwt',
  signingAlg: 'PS256',
  accessTokenTtl: 300,
  title: 'Payments API',
  description: 'Make payments from your accounts',
};
const BARE: ResourceServerRecord = {
  identifier: 'https://api.bank.example/accounts',
  scope: 'accounts:read',
  accessTokenFormat: 'opaque',
  signingAlg: 'ES256',
  accessTokenTtl: null,
};

test('a resource server is read back as stored, its title and description included, and removed once', () =>
  withTestDatabase(async ({ db }) => {
    await addResourceServer(db, PAYMENTS);
    await addResourceServer(db, BARE);
    assert.deepEqual(await findResourceServer(db, PAYMENTS.identifier), PAYMENTS);
    assert.deepEqual(await listResourceServers(db), [BARE, PAYMENTS]);
    assert.equal(await removeResourceServer(db, PAYMENTS.identifier), true);
    assert.equal(await removeResourceServer(db, PAYMENTS.identifier), false);
    assert.equal(await findResourceServer(db, PAYMENTS.identifier), undefined);
  }));

test('without a title the record has no title or description fields at all', () =>
  withTestDatabase(async ({ db }) => {
    await addResourceServer(db, BARE);
    const found = await findResourceServer(db, BARE.identifier);
    assert.ok(found);
    assert.ok(!('title' in found) && !('description' in found));
  }));

test('the table refuses a description without a title, an empty title and one over 80 characters', () =>
  withTestDatabase(async ({ db }) => {
    const refused = (record: ResourceServerRecord) =>
      assert.rejects(addResourceServer(db, record), /violates check constraint/);
    await refused({ ...BARE, description: 'Read your balances' });
    await refused({ ...BARE, title: '' });
    await refused({ ...BARE, title: 'x'.repeat(81) });
    await refused({ ...PAYMENTS, description: 'x'.repeat(201) });
    assert.deepEqual(await listResourceServers(db), []);
  }));

test('findResourceServers reads the registered ones of many identifiers in one statement, unknown ones left out', () =>
  withTestDatabase(async ({ db }) => {
    await addResourceServer(db, PAYMENTS);
    await addResourceServer(db, BARE);
    const found = await findResourceServers(db, [PAYMENTS.identifier, BARE.identifier, 'https://unknown.example/']);
    assert.deepEqual(
      found.sort((a, b) => a.identifier.localeCompare(b.identifier)),
      [BARE, PAYMENTS],
    );
    assert.deepEqual(await findResourceServers(db, []), []);
  }));

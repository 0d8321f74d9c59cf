import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordedIssuer, recordIssuer } from '../../src/db/server-issuer.ts';
import { withTestDatabase } from '../support/database.ts';

// The server_issuer store on real Postgres (migration 0014), on a database of its own.
test('no issuer is recorded before a server starts; each start replaces the one before', () =>
  withTestDatabase(async ({ db }) => {
    assert.equal(await recordedIssuer(db), undefined);
    await recordIssuer(db, 'http://localhost:3000');
    await recordIssuer(db, 'https://login.bank.example');
    assert.equal(await recordedIssuer(db), 'https://login.bank.example');
    const { rows } = await db.query('select * from server_issuer');
    assert.equal(rows.length, 1);
  }));

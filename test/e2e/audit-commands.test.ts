import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditChainBroken, exportAudit, tailAudit, verifyAudit } from '../../src/audit/chain.ts';
import { AuditLog } from '../../src/audit/writer.ts';
import { PgAuditStore } from '../../src/db/audit-chain.ts';
import { createLogger } from '../../src/log/logger.ts';
import { createTestDatabase } from '../support/database.ts';

// The audit commands (`kluis audit verify|tail|export`) called directly on a database of each test's own.
async function withEvents(t: { after: (fn: () => Promise<void>) => void }, count: number) {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const audit = new AuditLog(new PgAuditStore(database.db), createLogger('silent'));
  for (let i = 0; i < count; i += 1) {
    await audit.record({ type: 'client.updated', actor: 'operator', clientId: `c${i}`, details: { fields: [] } });
  }
  return database.db;
}

test('verifyAudit counts the events of an intact chain', async (t) => {
  const db = await withEvents(t, 3);
  assert.deepEqual(await verifyAudit({ db }), { verified: true, events: 3 });
});

test('verifyAudit names the first changed event with a typed error', async (t) => {
  const db = await withEvents(t, 3);
  await db.transaction(async (tx) => {
    await tx.query('alter table audit_events disable trigger audit_events_no_update_delete');
    await tx.query(`update audit_events set actor = 'someone' where client_id = 'c1'`);
    await tx.query('alter table audit_events enable trigger audit_events_no_update_delete');
  });
  await assert.rejects(verifyAudit({ db }), (err: unknown) => {
    assert.ok(err instanceof AuditChainBroken);
    assert.equal(err.code, 'ERR_AUDIT_CHAIN_BROKEN');
    assert.match(err.message, /^audit chain broken at event 2 .*; 1 events before it verified$/);
    return true;
  });
});

test('tailAudit gives the newest events oldest first; exportAudit all, or none after a future time', async (t) => {
  const db = await withEvents(t, 4);
  assert.deepEqual(
    (await tailAudit({ db }, 2)).map((event) => event.client_id),
    ['c2', 'c3'],
  );
  const all = [];
  for await (const event of exportAudit({ db })) all.push(event.client_id);
  assert.deepEqual(all, ['c0', 'c1', 'c2', 'c3']);
  const none = [];
  for await (const event of exportAudit({ db }, new Date('2999-01-01T00:00:00Z'))) none.push(event);
  assert.deepEqual(none, []);
});

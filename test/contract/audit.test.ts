import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type NewAuditEvent, PgAuditStore } from '../../src/db/audit-chain.ts';
import { type TestDatabase, withTestDatabase } from '../support/database.ts';

// The AuditStore's promises on real Postgres: appended events form one hash chain in the order given, whoever
// appends; verification names the first edited or missing event; reads follow the chain.

/** A store on a database of the test's own, dropped afterwards. */
function withStore(run: (store: PgAuditStore, t: TestDatabase) => Promise<void>): Promise<void> {
  return withTestDatabase((t) => run(new PgAuditStore(t.db), t));
}

const event = (n: number, more: Partial<NewAuditEvent> = {}): NewAuditEvent => ({
  type: 'login.failed',
  actor: 'anonymous',
  requestId: `request ${n}`,
  details: { n },
  ...more,
});

/** What a superuser with psql could do; the append-only trigger has to be switched off first. */
async function tamper(t: TestDatabase, sql: string) {
  await t.db.transaction(async (tx) => {
    await tx.query('alter table audit_events disable trigger audit_events_no_update_delete');
    await tx.query(sql);
    await tx.query('alter table audit_events enable trigger audit_events_no_update_delete');
  });
}

test('an empty log verifies with no events', () =>
  withStore(async (store) => {
    assert.deepEqual(await store.verify(), { ok: true, events: 0 });
    assert.equal(await store.lastSeq(), 0);
  }));

test('events appended in one batch keep their order and fields, and the chain verifies', () =>
  withStore(async (store) => {
    await store.append([
      event(1, { actor: 'client:c1', clientId: 'c1', grantId: 'g1' }),
      event(2, { accountId: 'a1' }),
      event(3),
    ]);
    const rows = await store.events({ limit: 10 });
    assert.deepEqual(
      rows.map((row) => [row.seq, row.details.n]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
    );
    const [first, second, third] = rows;
    assert.deepEqual(
      [first?.actor, first?.client_id, first?.grant_id, second?.account_id, third?.request_id],
      ['client:c1', 'c1', 'g1', 'a1', 'request 3'],
    );
    assert.match(first?.hash ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(await store.verify(), { ok: true, events: 3 });
  }));

test('events appended from 20 parallel connections form one chain without gaps', () =>
  withStore(async (store) => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.append([event(2 * i), event(2 * i + 1)])));
    assert.deepEqual(await store.verify(), { ok: true, events: 40 });
    assert.equal(await store.lastSeq(), 40);
  }));

test('verification walks the chain across batches', () =>
  withStore(async (store) => {
    await store.append(Array.from({ length: 25 }, (_, i) => event(i)));
    assert.deepEqual(await store.verify(10), { ok: true, events: 25 });
  }));

test('an edited event is reported as not matching its hash, with the events before it verified', () =>
  withStore(async (store, t) => {
    await store.append(Array.from({ length: 5 }, (_, i) => event(i)));
    await tamper(t, `update audit_events set actor = 'operator' where seq = 3`);
    const verdict = await store.verify();
    assert.equal(verdict.ok, false);
    assert.deepEqual(verdict, { ...verdict, events: 2, seq: 3, reason: 'its content does not match its hash' });
  }));

test('a deleted event is reported as missing', () =>
  withStore(async (store, t) => {
    await store.append(Array.from({ length: 5 }, (_, i) => event(i)));
    await tamper(t, 'delete from audit_events where seq = 2');
    const verdict = await store.verify();
    assert.deepEqual(verdict, { ...verdict, ok: false, events: 1, seq: 3, reason: 'event 2 is missing' });
  }));

test('events are read in chain order after a seq, from a time and up to a limit', () =>
  withStore(async (store, t) => {
    await store.append(Array.from({ length: 6 }, (_, i) => event(i)));
    assert.deepEqual(
      (await store.events({ afterSeq: 2, limit: 3 })).map((row) => row.seq),
      [3, 4, 5],
    );
    await t.db.query('alter table audit_events disable trigger audit_events_no_update_delete');
    await t.db.query(`update audit_events set occurred_at = now() - interval '1 day' where seq <= 4`);
    await t.db.query('alter table audit_events enable trigger audit_events_no_update_delete');
    const since = new Date(Date.now() - 3_600_000);
    assert.deepEqual(
      (await store.events({ since, limit: 10 })).map((row) => row.seq),
      [5, 6],
    );
    assert.equal(await store.lastSeq(), 6);
  }));

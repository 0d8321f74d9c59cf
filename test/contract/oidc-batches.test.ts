import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Database, type Queryable } from '../../src/db/database.ts';
import { PostgresAdapter } from '../../src/db/oidc-adapter.ts';
import { PgAuditStore } from '../../src/db/audit-chain.ts';
import { OidcBatches } from '../../src/db/oidc-batches.ts';
import { RowAlreadyConsumed, UnstorableInput } from '../../src/db/errors.ts';
import { SecretBox } from '../../src/secrets/secret-box.ts';
import { type TestDatabase, withTestDatabase } from '../support/database.ts';

// Group commit of the adapter's hot statements: the upserts, consumes and finds of requests in flight share one
// statement each, and every caller gets what a statement of its own would have given it. Real Postgres, a database
// per test; statements are counted on the way to it.
const box = SecretBox.fromMasterSecret('token-lookups-contract-master-secret-0123');

type Models = Record<'at' | 'cc' | 'rt' | 'code', PostgresAdapter>;

function counting(db: Queryable): { db: Queryable; statements: () => number } {
  let count = 0;
  return {
    db: {
      query: (text, values) => {
        count += 1;
        return db.query(text, values);
      },
    },
    statements: () => count,
  };
}

function modelsOn(db: Queryable): Models {
  const batches = new OidcBatches(db);
  const adapter = (model: string) => new PostgresAdapter(model, db, box, { batches });
  return {
    at: adapter('AccessToken'),
    cc: adapter('ClientCredentials'),
    rt: adapter('RefreshToken'),
    code: adapter('AuthorizationCode'),
  };
}

function withModels(work: (models: Models, statements: () => number, t: TestDatabase) => Promise<void>): Promise<void> {
  return withTestDatabase(async (t) => {
    const { db, statements } = counting(t.db);
    await work(modelsOn(db), statements, t);
  });
}

test('a token found as three models at once costs one statement, and only its own model finds it', () =>
  withModels(async ({ at, cc, rt }, statements) => {
    await at.upsert('token-1', { jti: 'token-1', clientId: 'c', kind: 'AccessToken' }, 60);
    const before = statements();
    const [asAccess, asCredentials, asRefresh] = await Promise.all([
      at.find('token-1'),
      cc.find('token-1'),
      rt.find('token-1'),
    ]);
    assert.equal(statements() - before, 1);
    assert.equal(asAccess?.kind, 'AccessToken');
    assert.equal(asAccess?.jti, 'token-1');
    assert.equal(asCredentials, undefined);
    assert.equal(asRefresh, undefined);
  }));

test('finds of different tokens at once share one statement and are not mixed up', () =>
  withModels(async ({ at, rt }, statements) => {
    await at.upsert('token-a', { jti: 'token-a', kind: 'AccessToken' }, 60);
    await rt.upsert('token-r', { jti: 'token-r', kind: 'RefreshToken' }, 60);
    const before = statements();
    const [a, r, neither] = await Promise.all([at.find('token-a'), rt.find('token-r'), at.find('token-r')]);
    assert.equal(statements() - before, 1);
    assert.deepEqual([a?.jti, r?.jti, neither], ['token-a', 'token-r', undefined]);
  }));

test('a consumed token is found with its consumption and an expired one not at all, as by a single find', () =>
  withModels(async ({ at, rt }, _statements, t) => {
    await rt.upsert('spent', { jti: 'spent' }, 60);
    await rt.consume('spent');
    await at.upsert('old', { jti: 'old' }, 60);
    await t.db.query(`update oidc_models set expires_at = now() - interval '1 second' where model = 'AccessToken'`);
    const [spent, old] = await Promise.all([rt.find('spent'), at.find('old')]);
    assert.equal(typeof spent?.consumed, 'number');
    assert.equal(old, undefined);
  }));

test('a find asked for after the statement went out reads the row again', () =>
  withModels(async ({ at }, statements) => {
    await at.upsert('token-2', { jti: 'token-2' }, 60);
    assert.ok(await at.find('token-2'));
    await at.destroy('token-2');
    const before = statements();
    assert.equal(await at.find('token-2'), undefined);
    assert.equal(statements() - before, 1);
  }));

test('one token found twice as one model at once (two requests presenting it) gives each its own copy', () =>
  withModels(async ({ at }, statements) => {
    await at.upsert('token-3', { jti: 'token-3', extra: { nested: 'kept' } }, 60);
    const before = statements();
    const [first, second] = await Promise.all([at.find('token-3'), at.find('token-3')]);
    assert.equal(statements() - before, 1);
    (first!.extra as { nested: string }).nested = 'changed by one request';
    assert.deepEqual(second!.extra, { nested: 'kept' });
  }));

test('50 tokens upserted at once are written by one statement, and each is found as written', () =>
  withModels(async ({ at }, statements) => {
    const ids = Array.from({ length: 50 }, (_, i) => `many-${i}`);
    const before = statements();
    await Promise.all(ids.map((id, i) => at.upsert(id, { jti: id, scope: `s${i}` }, 60)));
    assert.equal(statements() - before, 1);
    const found = await Promise.all(ids.map((id) => at.find(id)));
    assert.deepEqual(
      found.map((payload) => payload?.scope),
      ids.map((_, i) => `s${i}`),
    );
  }));

test('more upserts than fit in one statement go out in batches of 64, one at a time', () =>
  withModels(async ({ at }, statements) => {
    const ids = Array.from({ length: 150 }, (_, i) => `bulk-${i}`);
    const before = statements();
    await Promise.all(ids.map((id) => at.upsert(id, { jti: id }, 60)));
    assert.equal(statements() - before, 3);
    const found = await Promise.all(ids.map((id) => at.find(id)));
    assert.equal(found.filter(Boolean).length, 150);
  }));

test('two upserts of one row in the same batch write the one submitted last, without an error', () =>
  withModels(async ({ at }, statements) => {
    const before = statements();
    await Promise.all([
      at.upsert('twice', { jti: 'twice', scope: 'first' }, 60),
      at.upsert('twice', { jti: 'twice', scope: 'second' }, 60),
    ]);
    assert.equal(statements() - before, 1);
    assert.equal((await at.find('twice'))?.scope, 'second');
  }));

test('of 20 redemptions of one code at once, in one batch, exactly one consumes it', () =>
  withModels(async ({ code }, statements) => {
    await code.upsert('code-1', { jti: 'code-1' }, 60);
    const before = statements();
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => code.consume('code-1')));
    assert.equal(statements() - before, 1);
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    for (const o of outcomes.filter((o) => o.status === 'rejected'))
      assert.ok((o as PromiseRejectedResult).reason instanceof RowAlreadyConsumed);
    assert.equal(typeof (await code.find('code-1'))?.consumed, 'number');
  }));

test('of 20 redemptions of one code on two processes at once, exactly one consumes it', () =>
  withTestDatabase(async (t) => {
    const other = new Database(t.url);
    const first = modelsOn(t.db);
    const second = modelsOn(other);
    await first.code.upsert('code-2', { jti: 'code-2' }, 60);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? first : second).code.consume('code-2')),
    );
    await other.close();
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
  }));

test('consumes of different codes in one batch each consume their own, and a spent or unknown one fails alone', () =>
  withModels(async ({ code }, statements) => {
    for (const id of ['c-a', 'c-b', 'c-spent']) await code.upsert(id, { jti: id }, 60);
    await code.consume('c-spent');
    const before = statements();
    const outcomes = await Promise.allSettled(['c-a', 'c-spent', 'c-b', 'c-unknown'].map((id) => code.consume(id)));
    assert.equal(statements() - before, 1);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled', 'rejected'],
    );
  }));

test('a payload Postgres cannot store is refused before it joins a batch: the others share one statement', () =>
  withModels(async ({ at }, statements) => {
    const before = statements();
    const outcomes = await Promise.allSettled([
      at.upsert('good-1', { jti: 'good-1' }, 60),
      at.upsert('bad', { jti: 'bad', scope: 'nul \u0000 inside' }, 60),
      at.upsert('lone', { jti: 'lone', scope: 'lone \ud800 surrogate' }, 60),
      at.upsert('good-2', { jti: 'good-2' }, 60),
    ]);
    assert.equal(statements() - before, 1, 'no failed batch, no retries');
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
    );
    assert.ok((outcomes[1] as PromiseRejectedResult).reason instanceof UnstorableInput);
    assert.ok((outcomes[2] as PromiseRejectedResult).reason instanceof UnstorableInput);
    assert.ok(await at.find('good-1'));
    assert.ok(await at.find('good-2'));
    assert.equal(await at.find('bad'), undefined);
  }));

test('tokens saved with their audit events and grant uses write all of them in one statement, chain intact', () =>
  withTestDatabase(async (t) => {
    const { db, statements } = counting(t.db);
    const batches = new OidcBatches(db);
    const onSave = (_model: string, payload: { grantId?: unknown }) => ({
      audit: {
        type: 'token.issued',
        actor: 'client:c',
        clientId: 'c',
        requestId: 'r-1',
        details: { n: payload.grantId },
      },
      grantUsed: payload.grantId as string,
    });
    const at = new PostgresAdapter('AccessToken', db, box, { batches, onSave });
    const before = statements();
    await Promise.all([
      at.upsert('with-1', { jti: 'with-1', grantId: 'g-1' }, 60),
      at.upsert('with-2', { jti: 'with-2', grantId: 'g-1' }, 60),
      at.upsert('with-3', { jti: 'with-3', grantId: 'g-2' }, 60),
    ]);
    assert.equal(statements() - before, 1);
    const { rows: events } = await t.db.query<{ details: { n: string } }>(
      `select details from audit_events where type = 'token.issued' order by seq`,
    );
    assert.deepEqual(
      events.map((e) => e.details.n),
      ['g-1', 'g-1', 'g-2'],
    );
    const { rows: used } = await t.db.query('select grant_id from grant_usage order by grant_id');
    assert.deepEqual(used, [{ grant_id: 'g-1' }, { grant_id: 'g-2' }]);
    assert.deepEqual(await new PgAuditStore(t.db).verify(), { ok: true, events: 3 });
  }));

test('a token Postgres refuses leaves no audit event naming it', () =>
  withTestDatabase(async (t) => {
    const onSave = () => ({ audit: { type: 'token.issued', actor: 'client:c', requestId: null } });
    const at = new PostgresAdapter('AccessToken', t.db, box, { batches: new OidcBatches(t.db), onSave });
    const outcomes = await Promise.allSettled([
      at.upsert('kept', { jti: 'kept' }, 60),
      at.upsert('refused', { jti: 'refused', scope: 'nul \u0000' }, 60),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected'],
    );
    const { rows } = await t.db.query<{ n: number }>('select count(*)::int as n from audit_events');
    assert.equal(rows[0]!.n, 1);
  }));

test('audit events appended while tokens are saved go out in the same statement, in the order submitted', () =>
  withTestDatabase(async (t) => {
    const { db, statements } = counting(t.db);
    const batches = new OidcBatches(db);
    const onSave = () => ({ audit: { type: 'token.issued', actor: 'client:c', requestId: null } });
    const at = new PostgresAdapter('AccessToken', db, box, { batches, onSave });
    const store = new PgAuditStore(db, batches);
    const before = statements();
    await Promise.all([
      store.append([{ type: 'login.succeeded', actor: 'person', requestId: null }]),
      at.upsert('along', { jti: 'along' }, 60),
      store.append([{ type: 'consent.given', actor: 'person', requestId: null }]),
    ]);
    assert.equal(statements() - before, 1);
    const { rows } = await t.db.query<{ type: string }>('select type from audit_events order by seq');
    assert.deepEqual(
      rows.map((row) => row.type),
      ['login.succeeded', 'token.issued', 'consent.given'],
    );
    assert.deepEqual(await store.verify(), { ok: true, events: 3 });
  }));

test('a batched statement is planned once per connection, whatever the size of each batch', () =>
  withTestDatabase(async (t) => {
    // One connection, so that its prepared statements are the ones asked about.
    const db = new Database(t.url, { max: 1 });
    try {
      const { rt } = modelsOn(db);
      await rt.upsert('rt-1', { jti: 'rt-1', clientId: 'c', kind: 'RefreshToken' }, 60);
      // Batches of 1 to 8 finds: under plan_cache_mode=auto Postgres planned each of these anew.
      for (let size = 1; size <= 8; size += 1)
        await Promise.all(Array.from({ length: size }, (_, i) => rt.find(i ? `missing-${i}` : 'rt-1')));
      const { rows } = await db.query(
        `select generic_plans, custom_plans from pg_prepared_statements
         where statement like 'select model, id, payload, consumed_at from oidc_models%'`,
      );
      assert.equal(rows.length, 1);
      assert.equal(Number(rows[0]!.custom_plans), 0);
      assert.ok(Number(rows[0]!.generic_plans) >= 8);
    } finally {
      await db.close();
    }
  }));

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Database, type Queryable } from '../../src/db/database.ts';
import { PostgresRateLimits, sweepRateLimits, type RateLimitStore } from '../../src/db/rate-limits.ts';
import { type TestDatabase, withTestDatabase } from '../support/database.ts';

// The RateLimitStore contract the rate limits rely on, against real Postgres: a database of its own per test.
const WINDOW = 60;

function withStore(run: (store: RateLimitStore, t: TestDatabase) => Promise<void>): Promise<void> {
  return withTestDatabase((t) => run(new PostgresRateLimits(t.db), t));
}

/** Moves a key's window `seconds` into the past, as if that much time had gone by. */
async function age(t: TestDatabase, key: string, seconds: number): Promise<void> {
  await t.db.query('update rate_limits set window_start = window_start - make_interval(secs => $2) where key = $1', [
    key,
    seconds,
  ]);
}

test('the first hit of a key counts one and opens a window that ends windowSeconds later', () =>
  withStore(async (store) => {
    const before = Date.now();
    const { hits, resetAt } = await store.hit('login-ip:192.0.2.1', WINDOW);
    assert.equal(hits, 1);
    const expected = before + WINDOW * 1000;
    assert.ok(Math.abs(resetAt.getTime() - expected) < 5_000, `${resetAt.toISOString()} about a minute from now`);
  }));

test('50 concurrent hits of one key are counted exactly: each sees a different count, 1 to 50', () =>
  withStore(async (store) => {
    const counts = await Promise.all(Array.from({ length: 50 }, () => store.hit('token-client:c1', WINDOW)));
    assert.deepEqual(
      counts.map((c) => c.hits).sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.equal(new Set(counts.map((c) => c.resetAt.getTime())).size, 1, 'one window');
    assert.deepEqual(
      (await store.peek(['token-client:c1'], WINDOW)).map((c) => c.hits),
      [50],
    );
  }));

test('hits arriving together are counted by one statement, each with its exact count, several keys at once', () =>
  withTestDatabase(async (t) => {
    let statements = 0;
    const counted: Queryable = {
      query: (text, values) => {
        statements += 1;
        return t.db.query(text, values);
      },
    };
    const store = new PostgresRateLimits(counted);
    await store.hit('busy', WINDOW);
    statements = 0;
    const keys = ['busy', 'quiet', 'busy', 'busy', 'quiet'];
    const counts = await Promise.all(keys.map((key) => store.hit(key, WINDOW)));
    assert.equal(statements, 1);
    assert.deepEqual(
      counts.map((c) => c.hits),
      [2, 1, 3, 4, 2],
      'in the order submitted, as if counted one after another',
    );
  }));

test('a window that ends under a batch restarts at one for that batch, whatever its count was', () =>
  withStore(async (store, t) => {
    for (let i = 0; i < 5; i++) await store.hit('k', WINDOW);
    await age(t, 'k', WINDOW);
    const counts = await Promise.all([store.hit('k', WINDOW), store.hit('k', WINDOW), store.hit('k', WINDOW)]);
    assert.deepEqual(
      counts.map((c) => c.hits),
      [1, 2, 3],
    );
  }));

test('two processes counting one key at once, 40 hits each, give every hit a different count, 1 to 80', () =>
  withTestDatabase(async (t) => {
    const other = new Database(t.url);
    try {
      const stores = [new PostgresRateLimits(t.db), new PostgresRateLimits(other)];
      const counts = await Promise.all(Array.from({ length: 80 }, (_, i) => stores[i % 2]!.hit('shared', WINDOW)));
      assert.deepEqual(
        counts.map((c) => c.hits).sort((a, b) => a - b),
        Array.from({ length: 80 }, (_, i) => i + 1),
      );
    } finally {
      await other.close();
    }
  }));

test('keys are counted apart', () =>
  withStore(async (store) => {
    await store.hit('a', WINDOW);
    await store.hit('a', WINDOW);
    assert.equal((await store.hit('b', WINDOW)).hits, 1);
    assert.equal((await store.hit('a', WINDOW)).hits, 3);
  }));

test('once the window has ended, the next hit starts a new window at one', () =>
  withStore(async (store, t) => {
    await store.hit('k', WINDOW);
    const first = await store.hit('k', WINDOW);
    assert.equal(first.hits, 2);
    await age(t, 'k', WINDOW);
    const next = await store.hit('k', WINDOW);
    assert.equal(next.hits, 1);
    assert.ok(next.resetAt.getTime() > first.resetAt.getTime(), 'a later window');
  }));

test('peek counts nothing and leaves out keys without hits in their current window', () =>
  withStore(async (store, t) => {
    await store.hit('live', WINDOW);
    await store.hit('live', WINDOW);
    await store.hit('ended', WINDOW);
    await age(t, 'ended', WINDOW + 1);
    const seen = await store.peek(['live', 'ended', 'never'], WINDOW);
    assert.deepEqual(
      seen.map(({ key, hits }) => ({ key, hits })),
      [{ key: 'live', hits: 2 }],
    );
    assert.equal((await store.peek(['live'], WINDOW))[0]!.hits, 2, 'peeking did not count');
    assert.equal((await store.hit('live', WINDOW)).hits, 3);
  }));

test('the sweep deletes only counters whose window started longer ago than asked', () =>
  withStore(async (store, t) => {
    await store.hit('old', WINDOW);
    await store.hit('recent', WINDOW);
    await age(t, 'old', 3601);
    assert.equal(await sweepRateLimits(t.db, 3600), 1);
    const { rows } = await t.db.query<{ key: string }>('select key from rate_limits');
    assert.deepEqual(rows, [{ key: 'recent' }]);
  }));

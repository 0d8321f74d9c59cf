import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DatabaseUnavailable } from '../../src/db/errors.ts';
import { GroupCommit } from '../../src/db/group-commit.ts';

// The batching rules on their own, with a statement that records what it was given.
test('items submitted together are one batch; a failed batch is retried item by item, in order', async () => {
  const batches: string[][] = [];
  const commit = new GroupCommit<string, string>(async (items) => {
    batches.push([...items]);
    if (items.length > 1 && items.includes('bad')) throw new Error('the statement failed');
    if (items[0] === 'bad') throw new Error('bad alone');
    return items.map((item) => item.toUpperCase());
  });
  const settled: string[] = [];
  const outcomes = await Promise.allSettled(
    ['a', 'bad', 'b', 'c'].map((item) =>
      commit.submit(item).finally(() => {
        settled.push(item);
      }),
    ),
  );
  assert.deepEqual(batches, [['a', 'bad', 'b', 'c'], ['a'], ['bad'], ['b'], ['c']]);
  assert.deepEqual(settled, ['a', 'bad', 'b', 'c'], 'answered in the order submitted');
  assert.deepEqual(
    outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
    ['A', 'bad alone', 'B', 'C'],
  );
});

test('items arriving while a batch is in flight wait for it and go out together, at most one statement at a time', async () => {
  let inFlight = 0;
  let most = 0;
  const batches: number[][] = [];
  let started!: () => void;
  // The first batch is in flight once its statement runs: waited for, not guessed with a timer (on a loaded machine a
  // 5 ms timer could fire before the first batch went out).
  const firstInFlight = new Promise<void>((resolve) => {
    started = resolve;
  });
  const commit = new GroupCommit<number, number>(async (items) => {
    inFlight += 1;
    most = Math.max(most, inFlight);
    batches.push([...items]);
    started();
    await new Promise((resolve) => setTimeout(resolve, 20));
    inFlight -= 1;
    return [...items];
  });
  const first = commit.submit(1);
  await firstInFlight;
  const later = [2, 3, 4].map((n) => commit.submit(n));
  assert.deepEqual(await Promise.all([first, ...later]), [1, 2, 3, 4]);
  assert.deepEqual(batches, [[1], [2, 3, 4]]);
  assert.equal(most, 1);
});

test('when the database is unavailable every caller of the batch gets that error, without retries', async () => {
  let calls = 0;
  const commit = new GroupCommit<number, number>(async () => {
    calls += 1;
    throw new DatabaseUnavailable('down');
  });
  const outcomes = await Promise.allSettled([1, 2, 3].map((n) => commit.submit(n)));
  assert.equal(calls, 1);
  assert.ok(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof DatabaseUnavailable));
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { limitsTable, rssLine } from '../../bench/limits.ts';
import type { Figures } from '../../bench/measure.ts';

const figures = (rps: number, perRequest?: Figures['perRequest'], rssMB = 150): Figures => ({
  rps,
  p50: 1,
  p99: 2,
  cpu: 1,
  rssMB,
  ...(perRequest ? { perRequest } : {}),
});

const cells = (table: string, scenario: string) =>
  table
    .split('\n')
    .find((line) => line.startsWith(`| ${scenario} |`))!
    .split('|')
    .slice(1, -1)
    .map((cell) => cell.trim());

test('the bound is the bare provider and load generator over Kluis, Postgres and load generator, per request', () => {
  const table = limitsTable(
    [
      {
        name: 'cc-jwt',
        ratio: 0.45,
        ceiling: figures(4000, { nodeUs: 350, loadGeneratorUs: 50 }),
        edge: figures(3500, { nodeUs: 400, loadGeneratorUs: 50 }),
        kluis: figures(1800, { nodeUs: 640, postgresUs: 110, loadGeneratorUs: 50, rows: 2, commits: 0.2 }),
      },
    ],
    2,
    [
      { batch: 1, rowsPerSecond: 4000, commitsPerSecond: 4000, nodeUsPerRow: 80, postgresUsPerRow: 260 },
      { batch: 32, rowsPerSecond: 33000, commitsPerSecond: 1000, nodeUsPerRow: 15, postgresUsPerRow: 36 },
    ],
  );
  // bound (350 + 50) / (640 + 110 + 50) = 0.5; the target 0.8 needs Kluis + PG ≤ 400 / 0.8 - 50 = 450; Postgres's
  // floor for 2 rows in 0.2 commits: 2 × 36 + 0.2 × (260 - 36) = 116.8.
  assert.deepEqual(cells(table, 'cc-jwt'), [
    'cc-jwt',
    '0.8',
    '0.45',
    '0.50',
    '350',
    '50',
    '240',
    '110',
    '117 (2, 0.2)',
    '50 / 50',
    '750',
    '450',
    '400 / 100',
  ]);
});

test("sca-login's bound is the cores over all CPU per flow, against the argon2id rate", () => {
  const table = limitsTable(
    [
      {
        name: 'sca-login',
        ratio: 0.4,
        ceiling: figures(60),
        kluis: figures(24, { nodeUs: 50_000, postgresUs: 14_000, loadGeneratorUs: 16_000 }),
      },
    ],
    2,
  );
  // 2 cores / 80 ms per flow = 25 flows/s = 0.42 of 60; 0.5 needs 2e6 / 30 - 16,000 = 50,667 µs of Kluis + PG.
  assert.deepEqual(cells(table, 'sca-login').slice(0, 4), ['sca-login', '0.5', '0.4', '0.42']);
  assert.equal(cells(table, 'sca-login')[8], '–', 'no floor without the durable-row measurement');
  assert.equal(cells(table, 'sca-login')[11], '50667');
});

test('RSS over the target names the scenarios that exceed it', () => {
  const row = (name: string, rssMB: number) => ({
    name,
    ratio: 1,
    ceiling: figures(1),
    kluis: figures(1, undefined, rssMB),
  });
  assert.equal(rssLine([row('jwks', 180), row('sca-login', 230)]), 'RSS: 230 MB at most; over 200 MB in sca-login');
  assert.equal(rssLine([row('jwks', 180)]), 'RSS: 180 MB at most, within 200 MB in every scenario');
});

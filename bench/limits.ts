import type { DurableRowFigures } from './durable-rows.ts';
import type { Figures } from './measure.ts';

/** Issue 15's must-reach ratios to the ceiling (sca-login: to the argon2id rate) and its RSS bound. */
export const TARGETS: Record<string, number> = {
  'cc-opaque': 0.5,
  'cc-jwt': 0.8,
  introspect: 0.7,
  refresh: 0.35,
  discovery: 0.9,
  jwks: 0.9,
  'sca-login': 0.5,
};
export const RSS_TARGET_MB = 200;

export interface LimitRow {
  name: string;
  kluis: Figures;
  ceiling: Figures;
  /** The bare provider behind Kluis's edge (bench/ceiling.ts); absent for sca-login. */
  edge?: Figures;
  ratio: number;
}

/**
 * Where each scenario's CPU per request goes, part by part, and the ratio the machine allows. Kluis, Postgres and the
 * load generator share the cores, so when they are saturated a server's rate is cores ÷ (the CPU per request of
 * everything on them); the ratio cannot exceed (bare provider + load generator) ÷ (Kluis + Postgres + load
 * generator), each per request. The parts: the bare provider's own work; what Kluis's edge adds to it (the ceiling
 * behind the edge minus the ceiling); the rest of Kluis's node work (the rate limiter, storage: sealing, keyed ids,
 * the pg protocol, audit events; its routers and provider callbacks); Postgres. "beyond" is what the target leaves
 * for all of Kluis's own parts together. sca-login's ceiling is argon2id verifications per second on all cores, so
 * its bound is cores ÷ (Kluis + Postgres + load generator per flow) ÷ that rate.
 *
 * "Postgres floor" is the least Postgres CPU the rows and commits a request makes can cost on this machine, from the
 * durable-row measurement of the same run: rows × the per-row CPU of the largest batch, plus commits × what one
 * single-row INSERT and commit costs beyond that. Its rows are plain (no trigger, one index), so it is a lower bound.
 */
export function limitsTable(rows: LimitRow[], cores: number, durable: DurableRowFigures[] = []): string {
  const floor = postgresFloor(durable);
  const lines = [
    '| scenario | target | ratio | bound | bare provider | + edge | + rest of Kluis | Postgres | Postgres floor (rows, commits) | load generator (Kluis / ceiling) | Kluis + PG | target needs Kluis + PG ≤ | beyond the bare provider: used / allowed |',
    `|---|${'---:|'.repeat(12)}`,
  ];
  for (const row of rows) {
    const target = TARGETS[row.name];
    const k = row.kluis.perRequest;
    if (target === undefined || !k) continue;
    const pg = k.postgresUs ?? 0;
    const kluisLoad = k.loadGeneratorUs ?? 0;
    const kluisTotal = k.nodeUs + pg;
    const least =
      floor && k.rows !== undefined && k.commits !== undefined
        ? `${us(floor(k.rows, k.commits))} (${k.rows}, ${k.commits})`
        : '–';
    if (row.name === 'sca-login') {
      const budget = (cores * 1e6) / (target * row.ceiling.rps) - kluisLoad;
      const bound = (cores * 1e6) / (kluisTotal + kluisLoad) / row.ceiling.rps;
      lines.push(
        `| ${row.name} | ${target} | ${row.ratio} | ${fixed(bound)} | – | – | ${us(k.nodeUs)} | ${us(pg)} | ${least} | ${us(kluisLoad)} / – ` +
          `| ${us(kluisTotal)} | ${us(budget)} | – |`,
      );
      continue;
    }
    const c = row.ceiling.perRequest;
    const e = row.edge?.perRequest;
    if (!c) continue;
    const ceilingLoad = c.loadGeneratorUs ?? 0;
    const bound = (c.nodeUs + ceilingLoad) / (kluisTotal + kluisLoad);
    const budget = (c.nodeUs + ceilingLoad) / target - kluisLoad;
    const edgeCost = e ? e.nodeUs - c.nodeUs : undefined;
    const rest = e ? k.nodeUs - e.nodeUs : k.nodeUs - c.nodeUs;
    lines.push(
      `| ${row.name} | ${target} | ${row.ratio} | ${fixed(bound)} | ${us(c.nodeUs)} | ${edgeCost === undefined ? '–' : us(edgeCost)} ` +
        `| ${us(rest)} | ${us(pg)} | ${least} | ${us(kluisLoad)} / ${us(ceilingLoad)} | ${us(kluisTotal)} | ${us(budget)} ` +
        `| ${us(kluisTotal - c.nodeUs)} / ${us(budget - c.nodeUs)} |`,
    );
  }
  return lines.join('\n');
}

/** Postgres CPU, µs, that `rows` rows in `commits` commits cost at least; undefined without the measurement. */
function postgresFloor(durable: DurableRowFigures[]): ((rows: number, commits: number) => number) | undefined {
  const single = durable.find((d) => d.batch === 1)?.postgresUsPerRow;
  const batched = durable.filter((d) => d.postgresUsPerRow !== undefined).sort((a, b) => b.batch - a.batch)[0];
  if (single === undefined || batched?.postgresUsPerRow === undefined || batched.batch === 1) return undefined;
  const perRow = batched.postgresUsPerRow;
  return (rows, commits) => rows * perRow + commits * Math.max(0, single - perRow);
}

/** RSS against the target, per scenario: the largest Kluis process in any round. */
export function rssLine(rows: LimitRow[]): string {
  const over = rows.filter((row) => row.kluis.rssMB > RSS_TARGET_MB);
  const largest = Math.max(...rows.map((row) => row.kluis.rssMB));
  return over.length
    ? `RSS: ${largest} MB at most; over ${RSS_TARGET_MB} MB in ${over.map((row) => row.name).join(', ')}`
    : `RSS: ${largest} MB at most, within ${RSS_TARGET_MB} MB in every scenario`;
}

const us = (value: number) => String(Math.round(value));
const fixed = (value: number) => value.toFixed(2);

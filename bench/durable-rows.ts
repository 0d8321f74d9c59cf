import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabaseProbe } from './postgres.ts';
import { TICKS, treeTicks } from './measure.ts';

export interface DurableRowFigures {
  /** Rows per INSERT statement, each statement its own commit. */
  batch: number;
  rowsPerSecond: number;
  commitsPerSecond: number;
  /** CPU per row of the inserting node process (the bench itself), µs. */
  nodeUsPerRow: number;
  /** Postgres CPU per row, µs; absent on a shared server. */
  postgresUsPerRow?: number;
}

/** About the size of a stored client-credentials token's payload. */
const PAYLOAD = JSON.stringify({
  kind: 'ClientCredentials',
  clientId: '00000000-0000-4000-8000-000000000000',
  scope: 'bench:read',
  aud: 'https://api.bench.example',
  extra: {},
  jti: 'x'.repeat(43),
  iat: 1_764_640_000,
  exp: 1_764_640_600,
});

/**
 * The machine's limit for one durable row per token: `connections` clients insert into a table of oidc_models's
 * shape (text key, jsonb payload, indexed expiry), each INSERT autocommitted, so every statement is one commit and one
 * WAL flush (synchronous_commit stays on). Single rows against multi-row statements on the same Postgres show what
 * coalescing can buy and where fsync stops being the limit.
 */
export async function durableRowLimit(
  url: string,
  probe: DatabaseProbe,
  { seconds, connections, batches }: { seconds: number; connections: number; batches: number[] },
): Promise<DurableRowFigures[]> {
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      return client;
    }),
  );
  const [first] = clients;
  try {
    await first!.query(
      `create table if not exists bench_durable_rows (id text primary key, payload jsonb not null, expires_at timestamptz);
       create index if not exists bench_durable_rows_expires_at on bench_durable_rows (expires_at)`,
    );
    const figures: DurableRowFigures[] = [];
    for (const batch of batches) {
      await first!.query('truncate bench_durable_rows');
      figures.push(await insertFor(clients, probe, batch, seconds));
    }
    await first!.query('drop table bench_durable_rows');
    return figures;
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
}

async function insertFor(clients: pg.Client[], probe: DatabaseProbe, batch: number, seconds: number) {
  const sql =
    batch === 1
      ? 'insert into bench_durable_rows (id, payload, expires_at) values ($1, $2, $3)'
      : `insert into bench_durable_rows (id, payload, expires_at)
         select * from unnest($1::text[], $2::jsonb[], $3::timestamptz[])`;
  let rows = 0;
  let commits = 0;
  const before = await probe.read();
  const nodeBefore = treeTicks([process.pid]);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        const ids = Array.from({ length: batch }, () => randomBytes(16).toString('base64url'));
        const expires = new Date(Date.now() + 600_000);
        const values: unknown[] =
          batch === 1 ? [ids[0], PAYLOAD, expires] : [ids, ids.map(() => PAYLOAD), ids.map(() => expires)];
        await client.query(sql, values);
        rows += batch;
        commits += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const nodeTicks = treeTicks([process.pid]) - nodeBefore;
  const after = await probe.read();
  const ticks = before.ticks === undefined || after.ticks === undefined ? undefined : after.ticks - before.ticks;
  return {
    batch,
    rowsPerSecond: Math.round(rows / elapsed),
    commitsPerSecond: Math.round(commits / elapsed),
    nodeUsPerRow: Math.round(((nodeTicks / TICKS) * 1e6) / rows),
    ...(ticks === undefined ? {} : { postgresUsPerRow: Math.round(((ticks / TICKS) * 1e6) / rows) }),
  };
}

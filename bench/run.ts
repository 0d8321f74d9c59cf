import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile, readFile, chmod } from 'node:fs/promises';
import { cpus, totalmem, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import argon2 from 'argon2';
import pg from 'pg';
import { generate } from 'otplib';
import { createLogger } from '../src/log/logger.ts';
import { loadKeyRing } from '../src/oidc/provider/keys.ts';
import { setUpHouse } from './support/house.ts';
import { freePort, ROOT, UNREACHED_LIMITS } from './support/processes.ts';
import { durableRowLimit, type DurableRowFigures } from './durable-rows.ts';
import {
  load,
  median,
  percentile,
  processTree,
  sampled,
  TICKS,
  type Figures,
  type PerRequest,
  type Requests,
} from './measure.ts';
import {
  embeddedProbe,
  sharedServerProbe,
  startEmbeddedWithStatements,
  type DatabaseCounters,
  type DatabaseProbe,
} from './postgres.ts';
import { limitsTable, rssLine } from './limits.ts';
import { scaLogins, signIn, type LoginTarget } from './sca-login.ts';

/**
 * `npm run bench`: Kluis (one process, then two workers) and the ceiling (bare oidc-provider, in-memory) side by
 * side on this machine, same keys, client, API and token settings. HTTP scenarios are driven by autocannon; the full
 * SCA login by bench/sca-login.ts. Medians of several rounds after a warm-up; CPU and RSS read from /proc.
 */
const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, json: { type: 'boolean' }, only: { type: 'string' } },
});
const QUICK = values.quick === true;
/** `--only cc-jwt,refresh`: just those HTTP scenarios, one process, no login, workers or durable rows (development). */
const ONLY = values.only?.split(',');
const PLAN = QUICK
  ? { warmup: 0.5, duration: 2, rounds: 1, connections: 8 }
  : { warmup: 3, duration: 10, rounds: 3, connections: 16 };
const API = 'https://api.bench.example';
const REDIRECT = 'https://rp.bench.example/cb';
const PASSWORD = 'bench passphrase for everyone';
const ACCOUNTS = QUICK ? 400 : 3000;
const log = createLogger('silent');
const say = (line: string) => process.stderr.write(`${line}\n`);

const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
process.on('SIGINT', () => void finish(130));
process.on('uncaughtException', (err) => {
  say(`bench failed: ${err.stack ?? String(err)}`);
  void finish(1);
});

async function finish(code: number): Promise<never> {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  process.exit(code);
}

// --- database: a fresh one on DATABASE_URL's server, or an embedded PostgreSQL --------------------------------------
async function database(): Promise<{ url: string; source: string; probe: DatabaseProbe }> {
  if (process.env.DATABASE_URL) {
    const name = `kluis_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    cleanups.push(async () => {
      const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    });
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${name}`;
    return { url: url.toString(), source: 'PostgreSQL at DATABASE_URL', probe: sharedServerProbe() };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'kluis-bench-'));
  await chmod(dir, 0o755);
  const server = await startEmbeddedWithStatements(dir, await freePort(), log);
  cleanups.push(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const probe = await embeddedProbe(server, dir, server.url);
  cleanups.push(() => probe.close());
  return { url: server.url, source: 'embedded PostgreSQL', probe };
}

// --- processes --------------------------------------------------------------------------------------------------
async function waitFor(url: string, child: ChildProcess, what: string) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not start`);
}

/**
 * The environment and node flags `npm start` gives Kluis (package.json), so the bench measures what operators run;
 * BENCH_NODE_ARGS adds to the flags for experiments, e.g. BENCH_NODE_ARGS='--max-semi-space-size=4'.
 */
const START_WORDS = (
  JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
).scripts.start.split(/\s+/);
const START_ENV = Object.fromEntries(
  START_WORDS.filter((word) => /^[A-Z_]+=/.test(word)).map((word) => word.split(/=(.*)/).slice(0, 2)),
) as Record<string, string>;
const START_FLAGS = [
  ...START_WORDS.filter((word) => word.startsWith('--')),
  ...(process.env.BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []),
];

async function startKluis(databaseUrl: string, workers: number) {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const child = spawn(process.execPath, [...START_FLAGS, 'src/main.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      PATH: process.env.PATH ?? '',
      ...START_ENV,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: issuer,
      WORKERS: String(workers),
      // Request logs would measure the log pipe; limits would measure refusals. Both still run their bookkeeping.
      LOG_LEVEL: 'warn',
      DEMO: 'off',
      ...UNREACHED_LIMITS,
      // For profiling Kluis under the bench's load, e.g. BENCH_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
      ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    },
  });
  children.push(child);
  await waitFor(`${issuer}/readyz`, child, 'Kluis');
  if (workers > 1) {
    // Every worker must be up: wait until the supervisor has all its children and each answered.
    for (let i = 0; i < 50 && processTree(child.pid!).length < workers + 1; i += 1)
      await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 20; i += 1) await fetch(`${issuer}/readyz`);
  }
  return { issuer, pids: () => processTree(child.pid!), stop: () => stop(child) };
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

// --- setup --------------------------------------------------------------------------------------------------------
say(
  `kluis bench${QUICK ? ' (quick)' : ''}: ${PLAN.rounds} round(s) of ${PLAN.duration} s after ${PLAN.warmup} s warm-up, ${PLAN.connections} connections`,
);
const db = await database().catch(async (err: unknown) => {
  say(`bench: cannot get a database (${(err as Error).message})`);
  return finish(1);
});
const {
  ctx,
  client,
  usernames,
  passwordHash,
  totpSecret,
  resetPeople: resetAccounts,
} = await setUpHouse(db.url, {
  api: API,
  redirectUri: REDIRECT,
  password: PASSWORD,
  people: ACCOUNTS,
});
cleanups.push(() => ctx.connection.close());
const keys = await loadKeyRing(ctx.db, ctx.secrets.box);

// The ceiling, with Kluis's own keys (written to a private temp file for its start, then deleted); and the same
// behind Kluis's edge (bench/ceiling.ts), which measures that edge apart from storage.
const work = await mkdtemp(path.join(tmpdir(), 'kluis-bench-ceiling-'));
cleanups.push(() => rm(work, { recursive: true, force: true }));

async function startCeiling(name: string, edge: boolean) {
  const port = await freePort();
  const settingsFile = path.join(work, `${name}.json`);
  const out = path.join(work, `${name}-tokens.json`);
  await writeFile(
    settingsFile,
    JSON.stringify({
      issuer: `http://localhost:${port}`,
      port,
      jwks: keys.jwks,
      client: {
        client_id: client.client_id,
        client_secret: client.client_secret,
        grant_types: client.grant_types,
        response_types: client.response_types,
        redirect_uris: client.redirect_uris,
        scope: client.scope,
        id_token_signed_response_alg: 'ES256',
      },
      api: { identifier: API, scope: 'bench:read', ttl: 300 },
      accessTokenTtl: ctx.config.accessTokenTtl,
      refreshTokens: PLAN.connections * 4,
      out,
      edge,
    }),
    { mode: 0o600 },
  );
  const child = spawn(process.execPath, ['bench/ceiling.ts', settingsFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { PATH: process.env.PATH ?? '' },
  });
  children.push(child);
  await waitFor(`http://localhost:${port}/jwks`, child, `the ${name}`);
  await rm(settingsFile);
  const { refreshTokens } = JSON.parse(await readFile(out, 'utf8')) as { refreshTokens: string[] };
  return { issuer: `http://localhost:${port}`, pids: () => [child.pid!], refreshTokens };
}
const ceiling = await startCeiling('ceiling', false);
const edged = await startCeiling('ceiling behind the edge', true);

// --- scenarios ------------------------------------------------------------------------------------------------------
const basic = `Basic ${Buffer.from(`${String(client.client_id)}:${String(client.client_secret)}`).toString('base64')}`;
const form = { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' };

async function opaqueToken(issuer: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, { method: 'POST', headers: form, body: 'grant_type=client_credentials' });
  return ((await res.json()) as { access_token: string }).access_token;
}

/**
 * Refresh with rotation: every answer carries the next refresh token. autocannon resets its per-connection context
 * after each request of a one-request list, so the tokens live in a shared pool: a request takes one, its answer
 * puts the rotated one back.
 */
function refreshRequests(pool: string[]): Requests {
  return [
    {
      method: 'POST',
      path: '/token',
      headers: form,
      setupRequest: (request: Record<string, unknown>) => ({
        ...request,
        body: `grant_type=refresh_token&refresh_token=${pool.shift() ?? 'exhausted'}`,
      }),
      onResponse: (status: number, body: string) => {
        if (status === 200) pool.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
      },
    },
  ] as unknown as Requests;
}

type Target = { issuer: string; pids: () => number[] };
interface HttpScenario {
  name: string;
  prepare?: (target: Target, label: string) => Promise<void>;
  options: (target: Target, label: string) => Parameters<typeof load>[0];
}

const introspected = new Map<string, string>();
const refreshPools = new Map<string, string[]>();
const SCENARIOS: HttpScenario[] = [
  {
    name: 'cc-opaque',
    options: (t) => ({
      url: `${t.issuer}/token`,
      connections: PLAN.connections,
      duration: 0,
      method: 'POST',
      headers: form,
      body: 'grant_type=client_credentials',
    }),
  },
  {
    name: 'cc-jwt',
    options: (t) => ({
      url: `${t.issuer}/token`,
      connections: PLAN.connections,
      duration: 0,
      method: 'POST',
      headers: form,
      body: `grant_type=client_credentials&resource=${encodeURIComponent(API)}&scope=bench%3Aread`,
    }),
  },
  {
    name: 'introspect',
    prepare: async (t, label) => void introspected.set(label, await opaqueToken(t.issuer)),
    options: (t, label) => ({
      url: `${t.issuer}/token/introspection`,
      connections: PLAN.connections,
      duration: 0,
      method: 'POST',
      headers: form,
      body: `token=${introspected.get(label)}`,
    }),
  },
  {
    name: 'refresh',
    options: (t, label) => ({
      url: t.issuer,
      connections: PLAN.connections,
      duration: 0,
      requests: refreshRequests(refreshPools.get(label)!),
    }),
  },
  {
    name: 'discovery',
    options: (t) => ({
      url: `${t.issuer}/.well-known/openid-configuration`,
      connections: PLAN.connections,
      duration: 0,
    }),
  },
  { name: 'jwks', options: (t) => ({ url: `${t.issuer}/jwks`, connections: PLAN.connections, duration: 0 }) },
];

/**
 * Figures of one window: `count` requests (or flows) in `seconds` with the server's node CPU at `cpu` cores; with a
 * probe, Postgres's CPU, statements and commits from its counters before and after.
 */
function perRequest(
  count: number,
  seconds: number,
  cpu: number,
  loadGeneratorSeconds: number,
  database?: { before: DatabaseCounters; after: DatabaseCounters },
): PerRequest {
  const per = (from?: number, to?: number) =>
    from === undefined || to === undefined || !count ? undefined : (to - from) / count;
  const ticks = per(database?.before.ticks, database?.after.ticks);
  return {
    nodeUs: count ? (cpu * seconds * 1e6) / count : 0,
    loadGeneratorUs: count ? (loadGeneratorSeconds * 1e6) / count : 0,
    postgresUs: ticks === undefined ? undefined : (ticks / TICKS) * 1e6,
    statements: per(database?.before.statements, database?.after.statements),
    commits: per(database?.before.commits, database?.after.commits),
    rows: per(database?.before.rows, database?.after.rows),
    top: topStatements(count, database),
  };
}

/** The six statements called most often in the window, per request: where a scenario's statements go. */
function topStatements(
  count: number,
  database?: { before: DatabaseCounters; after: DatabaseCounters },
): PerRequest['top'] {
  const { before, after } = database ?? {};
  if (!before?.calls || !after?.calls || !count) return undefined;
  return [...after.calls]
    .map(([statement, { calls, ms }]) => {
      const earlier = before.calls!.get(statement) ?? { calls: 0, ms: 0 };
      return {
        statement,
        perRequest: round((calls - earlier.calls) / count, 2),
        us: round(((ms - earlier.ms) * 1000) / count, 0),
      };
    })
    .filter((entry) => entry.perRequest > 0)
    .sort((a, b) => b.perRequest - a.perRequest)
    .slice(0, 6);
}

/**
 * Reads the database's counters around `work` when the target is Kluis (the ceiling has no database). First the
 * bench database is analysed, as autovacuum keeps a running server's statistics: it starts empty and fills within
 * the run, and a plan Postgres cached while `oidc_models` held a few rows scans the whole table until the next
 * analyse (autovacuum looks once a minute; a window is shorter).
 */
async function counted<T>(probe: DatabaseProbe | undefined, work: () => Promise<T>) {
  if (probe) await analyse();
  const before = await probe?.read();
  const result = await work();
  const after = await probe?.read();
  return { ...result, database: before && after ? { before, after } : undefined };
}

async function analyse(): Promise<void> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query('analyze');
  } finally {
    await client.end();
  }
}

async function measure(scenario: HttpScenario, target: Target, label: string): Promise<Figures> {
  await scenario.prepare?.(target, label);
  await load({ ...scenario.options(target, label), duration: PLAN.warmup });
  const probe = label === 'ceiling' || label === 'edge' ? undefined : db.probe;
  const rounds: (Figures & { bad: number })[] = [];
  for (let round = 0; round < PLAN.rounds; round += 1) {
    const { result, cpu, rssMB, seconds, loadGeneratorSeconds, database } = await counted(probe, () =>
      sampled(target.pids(), () => load({ ...scenario.options(target, label), duration: PLAN.duration })),
    );
    rounds.push({
      rps: result.rps,
      p50: result.p50,
      p99: result.p99,
      cpu,
      rssMB,
      perRequest: perRequest(result.requests, seconds, cpu, loadGeneratorSeconds, database),
      bad: result.errors + result.non2xx,
    });
  }
  const bad = rounds.reduce((sum, r) => sum + r.bad, 0);
  if (bad) say(`  ${scenario.name} ${label}: ${bad} failed responses`);
  return summarise(rounds);
}

function summarise(rounds: Figures[]): Figures {
  const of = (pick: (p: PerRequest) => number | undefined, digits: number) => {
    const values = rounds.map((r) => (r.perRequest ? pick(r.perRequest) : undefined));
    return values.some((v) => v === undefined) ? undefined : round(median(values as number[]), digits);
  };
  const nodeUs = of((p) => p.nodeUs, 0);
  return {
    rps: round(median(rounds.map((r) => r.rps))),
    p50: round(median(rounds.map((r) => r.p50))),
    p99: round(median(rounds.map((r) => r.p99))),
    cpu: round(median(rounds.map((r) => r.cpu)), 2),
    rssMB: round(Math.max(...rounds.map((r) => r.rssMB))),
    ...(nodeUs === undefined
      ? {}
      : {
          perRequest: {
            nodeUs,
            loadGeneratorUs: of((p) => p.loadGeneratorUs, 0),
            postgresUs: of((p) => p.postgresUs, 0),
            statements: of((p) => p.statements, 2),
            commits: of((p) => p.commits, 2),
            rows: of((p) => p.rows, 2),
            top: rounds.at(-1)?.perRequest?.top,
          },
        }),
  };
}
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

async function mintRefreshTokens(target: LoginTarget, count: number, from: number): Promise<string[]> {
  await resetAccounts();
  const code = await generate({ secret: totpSecret, epoch: Math.floor(Date.now() / 1000) });
  const tokens: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const answer = await signIn(target, usernames[from + i]!, 'openid offline_access', code);
    if (answer?.refresh_token) tokens.push(answer.refresh_token);
  }
  return tokens;
}

async function scaLogin(target: LoginTarget, pids: () => number[]): Promise<Figures & { failures: number }> {
  const rounds: Figures[] = [];
  let failures = 0;
  for (let r = 0; r < PLAN.rounds; r += 1) {
    await resetAccounts();
    const { result, cpu, rssMB, seconds, loadGeneratorSeconds, database } = await counted(db.probe, () =>
      sampled(pids(), () => scaLogins(target, PLAN.connections, PLAN.duration)),
    );
    if (result.exhausted)
      say(`  sca-login: all ${ACCOUNTS} accounts used within one round; the figure is a lower bound`);
    failures += result.failures;
    rounds.push({
      rps: result.flowsPerSecond,
      p50: percentile(result.latencies, 50),
      p99: percentile(result.latencies, 99),
      cpu,
      rssMB,
      perRequest: perRequest(result.latencies.length + result.failures, seconds, cpu, loadGeneratorSeconds, database),
    });
  }
  return { ...summarise(rounds), failures };
}

/** The ceiling for a login: argon2id verifications per second, with Kluis's parameters, on all cores of this machine. */
async function argon2Rate(): Promise<Figures> {
  const deadline = performance.now() + PLAN.duration * 1000;
  const latencies: number[] = [];
  const worker = async () => {
    while (performance.now() < deadline) {
      const started = performance.now();
      await argon2.verify(passwordHash, PASSWORD);
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  const { cpu, rssMB } = await sampled([process.pid], () => Promise.all(Array.from({ length: cpus().length }, worker)));
  return {
    rps: round(latencies.length / ((performance.now() - started) / 1000)),
    p50: round(percentile(latencies, 50)),
    p99: round(percentile(latencies, 99)),
    cpu: round(cpu, 2),
    rssMB: round(rssMB),
  };
}

// --- the run --------------------------------------------------------------------------------------------------------
interface Row {
  name: string;
  kluis: Figures;
  kluis2?: Figures;
  ceiling: Figures;
  /** The bare provider behind Kluis's edge; absent for sca-login. */
  edge?: Figures;
  ratio: number;
}
const rows: Row[] = [];
try {
  const kluis = await startKluis(db.url, 1);
  const loginTarget = (issuer: string): LoginTarget => ({
    issuer,
    clientId: String(client.client_id),
    clientSecret: String(client.client_secret),
    redirectUri: REDIRECT,
    usernames,
    password: PASSWORD,
    totpSecret,
  });
  refreshPools.set('kluis', await mintRefreshTokens(loginTarget(kluis.issuer), PLAN.connections * 4, 0));
  refreshPools.set('ceiling', [...ceiling.refreshTokens]);
  refreshPools.set('edge', [...edged.refreshTokens]);

  const results = new Map<string, { kluis: Figures; ceiling: Figures; edge?: Figures; kluis2?: Figures }>();
  for (const scenario of SCENARIOS.filter((s) => !ONLY || ONLY.includes(s.name))) {
    say(`  ${scenario.name}…`);
    results.set(scenario.name, {
      kluis: await measure(scenario, kluis, 'kluis'),
      ceiling: await measure(scenario, ceiling, 'ceiling'),
      edge: await measure(scenario, edged, 'edge'),
    });
  }
  if (ONLY) {
    if (ONLY.includes('sca-login')) {
      const { failures: _f, ...login } = await scaLogin(loginTarget(kluis.issuer), kluis.pids);
      results.set('sca-login', { kluis: login, ceiling: await argon2Rate() });
    }
    await kluis.stop();
    const partial = [...results].map(([name, figures]) => ({
      name,
      ...figures,
      ratio: round(figures.kluis.rps / figures.ceiling.rps, 2),
    }));
    for (const { name, kluis: k, ratio } of partial) {
      const p = k.perRequest;
      say(
        `${name}: ${k.rps} rps, ${ratio}×, node ${p?.nodeUs} µs, PG ${p?.postgresUs} µs, ${p?.statements} stmts, ${p?.commits} commits, ${p?.rows} rows, p50 ${k.p50} p99 ${k.p99} ms, RSS ${k.rssMB} MB`,
      );
      for (const t of p?.top ?? []) say(`  ${t.perRequest}× ${t.us} µs ${t.statement}`);
    }
    say(limitsTable(partial, cpus().length));
    say(rssLine(partial));
    await finish(0);
  }
  say('  sca-login…');
  const login = await scaLogin(loginTarget(kluis.issuer), kluis.pids);
  if (login.failures) say(`  sca-login: ${login.failures} flows failed`);
  const argon = await argon2Rate();
  await kluis.stop();

  // Two workers: the same HTTP scenarios (quick mode: client credentials only) and the login.
  say('  two workers…');
  const kluis2 = await startKluis(db.url, 2);
  refreshPools.set(
    'kluis2',
    await mintRefreshTokens(loginTarget(kluis2.issuer), PLAN.connections * 4, PLAN.connections * 4),
  );
  for (const scenario of QUICK ? SCENARIOS.slice(0, 1) : SCENARIOS) {
    results.get(scenario.name)!.kluis2 = await measure(scenario, kluis2, 'kluis2');
  }
  const login2 = QUICK ? undefined : await scaLogin(loginTarget(kluis2.issuer), kluis2.pids);
  await kluis2.stop();

  say('  durable rows…');
  const durableRows = await durableRowLimit(db.url, db.probe, {
    seconds: PLAN.duration,
    connections: PLAN.connections,
    batches: [1, 16, 32],
  });

  for (const [name, figures] of results)
    rows.push({ name, ...figures, ratio: round(figures.kluis.rps / figures.ceiling.rps, 2) });
  const { failures: _f, ...loginFigures } = login;
  rows.push({
    name: 'sca-login',
    kluis: loginFigures,
    ...(login2 ? { kluis2: (({ failures: _x, ...rest }) => rest)(login2) } : {}),
    ceiling: argon,
    ratio: round(login.rps / argon.rps, 2),
  });

  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGB: round(totalmem() / 2 ** 30),
    node: process.version,
    database: db.source,
    plan: PLAN,
    date: new Date().toISOString(),
  };
  const report: Report = { machine, notes: db.probe.notes, scenarios: rows, durableRows };
  await mkdir(path.join(ROOT, 'bench-results'), { recursive: true });
  const file = path.join(ROOT, 'bench-results', `${machine.date.replace(/[:.]/g, '-')}${QUICK ? '-quick' : ''}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    process.stdout.write(table(report));
    process.stdout.write(`\nwritten to ${path.relative(ROOT, file)}\n`);
  }
} catch (err) {
  say(`bench failed: ${(err as Error).stack ?? String(err)}`);
  await finish(1);
}
await finish(0);

interface Report {
  machine: Record<string, unknown>;
  notes: string[];
  scenarios: Row[];
  durableRows: DurableRowFigures[];
}

function table(report: Report): string {
  const m = report.machine;
  const shown = (value: number | undefined) => (value === undefined ? '–' : String(value));
  const lines = [
    `machine: ${String(m.cpu)}, ${String(m.cores)} cores, ${String(m.memoryGB)} GiB, Node ${String(m.node)}, ${String(m.database)}`,
    '',
    '| scenario | Kluis rps | ratio | p50 ms | p99 ms | node µs/req | PG µs/req | stmts/req | commits/req | CPU | RSS MB ' +
      '| ceiling rps | p50 ms | p99 ms | node µs/req | CPU | RSS MB | Kluis ×2 rps |',
    `|---|${'---:|'.repeat(17)}`,
  ];
  for (const row of report.scenarios) {
    const k = row.kluis;
    const c = row.ceiling;
    const p = k.perRequest;
    lines.push(
      `| ${row.name} | ${k.rps} | ${row.ratio} | ${k.p50} | ${k.p99} | ${shown(p?.nodeUs)} | ${shown(p?.postgresUs)} ` +
        `| ${shown(p?.statements)} | ${shown(p?.commits)} | ${k.cpu} | ${k.rssMB} | ${c.rps} | ${c.p50} | ${c.p99} ` +
        `| ${shown(c.perRequest?.nodeUs)} | ${c.cpu} | ${c.rssMB} | ${row.kluis2?.rps ?? '–'} |`,
    );
  }
  lines.push(
    '',
    'sca-login: complete flows per second (login, TOTP, consent, code, token), per-request columns per flow; its ceiling',
    'is argon2id verifications per second on all cores.',
    ...report.notes.map((note) => `- ${note}`),
    '',
    'Where the statements go (calls per request, most frequent first; last round):',
    ...report.scenarios.flatMap((row) =>
      row.kluis.perRequest?.top?.length
        ? [
            `- ${row.name}: ${row.kluis.perRequest.top.map((t) => `${t.perRequest}× (${t.us} µs) ${t.statement}`).join(' · ')}`,
          ]
        : [],
    ),
    '',
    "The machine's limit for one durable row per token (oidc_models's shape, each INSERT its own commit):",
    '',
    '| rows per INSERT | rows/s | commits/s | node µs/row | PG µs/row |',
    '|---:|---:|---:|---:|---:|',
    ...report.durableRows.map(
      (d) =>
        `| ${d.batch} | ${d.rowsPerSecond} | ${d.commitsPerSecond} | ${d.nodeUsPerRow} | ${shown(d.postgresUsPerRow)} |`,
    ),
    '',
    'Against the targets: CPU per request (per flow for sca-login) of each part, µs, and the ratio the machine allows',
    '(bench/limits.ts says how each is measured):',
    '',
    limitsTable(report.scenarios, Number(m.cores), report.durableRows),
    '',
    rssLine(report.scenarios),
  );
  return `${lines.join('\n')}\n`;
}

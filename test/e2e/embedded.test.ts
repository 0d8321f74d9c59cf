import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import * as oidc from 'openid-client';
import pg from 'pg';
import type { AdapterPayload } from 'oidc-provider';
import { relyingParty } from '../support/clients.ts';
import { freePort, runCli, spawnKluis, type KluisProcess } from '../support/kluis.ts';
import { tempDir } from '../support/tempdir.ts';

// The newcomer's path: no DATABASE_URL, so `npm start` runs its own PostgreSQL under KLUIS_DATA_DIR. Each test has
// a data dir of its own, so it runs alone.
interface DataDir {
  path: string;
  env: Record<string, string>;
  /** The `npm start` running on it, if any: stopped (SIGTERM, so its Postgres stops too) when the test ends. */
  server?: KluisProcess;
}

async function dataDir(t: TestContext): Promise<DataDir> {
  const dir = await tempDir('kluis-embedded');
  const env = { KLUIS_DATA_DIR: dir.path, EMBEDDED_PG_PORT: String(await freePort()) };
  const data: DataDir = { path: dir.path, env };
  t.after(async () => {
    if (data.server && data.server.child.exitCode === null) {
      data.server.child.kill('SIGTERM');
      await data.server.exited;
    }
    await dir.remove();
  });
  return data;
}

/** `npm start` on the data dir; the first start runs initdb. */
async function start(data: DataDir): Promise<KluisProcess> {
  data.server = await spawnKluis(data.env);
  return data.server;
}

async function stop(server: KluisProcess): Promise<number | null> {
  server.child.kill('SIGTERM');
  return server.exited;
}

/** A machine client added with the CLI. */
async function addClient(data: DataDir): Promise<AdapterPayload> {
  const metadata = JSON.stringify({ grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
  const added = await runCli(['clients', 'add'], data.env, metadata);
  assert.equal(added.code, 0, added.stderr);
  return JSON.parse(added.stdout) as AdapterPayload;
}

const jwksKids = async (server: KluisProcess) =>
  ((await (await fetch(new URL('/jwks', server.issuer))).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
const postmasterPid = (data: DataDir) => path.join(data.path, 'postgres', 'postmaster.pid');
/** The demo password of the banner, which main.ts prints just after the server says it is listening. */
async function demoPassword(server: KluisProcess): Promise<string | undefined> {
  for (let i = 0; i < 100; i += 1) {
    const password = /password\s+(\S+)/.exec(server.output())?.[1];
    if (password) return password;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

describe('embedded PostgreSQL', () => {
  test('npm start with no DATABASE_URL initialises Postgres under the data dir and serves discovery', async (t) => {
    const data = await dataDir(t);
    const started = Date.now();
    const server = await start(data);
    const res = await fetch(new URL('/.well-known/openid-configuration', server.issuer));
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { issuer: string }).issuer, server.issuer);
    assert.ok(existsSync(path.join(data.path, 'postgres', 'PG_VERSION')));
    assert.match(server.output(), /"database":"embedded"/);
    // The plain `npm start` seeds the demo and says how to log in (DEMO=auto: embedded database, http issuer).
    assert.ok(await demoPassword(server), 'the demo banner is printed');
    assert.match(
      server.output(),
      new RegExp(`open\\s+${server.issuer}/demo\\n\\s+username\\s+demo\\n\\s+password\\s+\\S{16}`),
    );
    // Measured, not asserted (speed is the benchmark's business): printed for the record.
    console.log(`# first start with initdb served discovery after ${Date.now() - started} ms`);
  });

  test('Kluis talks to its embedded Postgres over a Unix socket in the data directory, not TCP', async (t) => {
    const data = await dataDir(t);
    await start(data);
    const databaseDir = path.join(data.path, 'postgres');
    assert.ok(existsSync(path.join(databaseDir, `.s.PGSQL.${data.env.EMBEDDED_PG_PORT}`)), 'the socket is there');
    const password = (await readFile(path.join(data.path, 'postgres.password'), 'utf8')).trim();
    const admin = new pg.Client({
      host: databaseDir,
      port: Number(data.env.EMBEDDED_PG_PORT),
      user: 'postgres',
      password,
      database: 'postgres',
    });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ tcp: boolean }>(
        `select client_addr is not null as tcp from pg_stat_activity where application_name = 'kluis'`,
      );
      assert.ok(rows.length > 0, 'Kluis is connected');
      assert.ok(
        rows.every((row) => !row.tcp),
        'every connection of Kluis is local',
      );
    } finally {
      await admin.end();
    }
  });

  const joins =
    'the CLI joins the embedded Postgres of the running server; ' +
    'its client gets a token that introspects, then is revoked';
  test(joins, async (t) => {
    const data = await dataDir(t);
    const server = await start(data);
    const client = await addClient(data);
    const rp = await relyingParty(server.issuer, client);
    const { access_token } = await oidc.clientCredentialsGrant(rp, {});
    assert.equal((await oidc.tokenIntrospection(rp, access_token)).active, true);
    await oidc.tokenRevocation(rp, access_token);
    assert.equal((await oidc.tokenIntrospection(rp, access_token)).active, false);
  });

  test('SIGTERM stops the server and the Postgres it started', async (t) => {
    const data = await dataDir(t);
    const server = await start(data);
    assert.ok(existsSync(postmasterPid(data)), 'Postgres runs while the server does');
    assert.equal(await stop(server), 0);
    assert.ok(!existsSync(postmasterPid(data)), 'postmaster.pid is gone: Postgres shut down');
  });

  // Signalled as soon as initdb begins: the server (and the WORKERS supervisor) used to die of the signal there,
  // leaving its Postgres running.
  // Once stopping, nothing more starts: no demo banner (with a fresh activation code), no workers forked.
  for (const { workers, seen, never } of [
    { workers: '1', seen: /draining and shutting down[\s\S]*kluis listening/, never: /Kluis demo/ },
    { workers: '2', seen: /stopping workers/, never: /supervising workers|Kluis demo/ },
  ]) {
    test(`a SIGTERM while the server starts (WORKERS=${workers}) waits for its Postgres, then stops it`, {
      timeout: 120_000,
    }, async (t) => {
      const data = await dataDir(t);
      const env = { ...data.env, WORKERS: workers };
      const starting = await spawnKluis(env, 60_000, 'initialising the embedded PostgreSQL');
      data.server = starting;
      starting.child.kill('SIGTERM');
      assert.equal(await starting.exited, 0, starting.output());
      assert.match(starting.output(), seen);
      assert.doesNotMatch(starting.output(), never);
      assert.ok(!existsSync(postmasterPid(data)), 'postmaster.pid is gone: Postgres shut down');
    });
  }

  test('with no server running the CLI starts the embedded Postgres itself and stops it again', async (t) => {
    const data = await dataDir(t);
    const server = await start(data);
    const client = await addClient(data);
    assert.equal(await stop(server), 0);
    const list = await runCli(['clients', 'list'], data.env);
    assert.equal(list.code, 0, list.stderr);
    assert.ok((JSON.parse(list.stdout) as AdapterPayload[]).some((c) => c.client_id === client.client_id));
    assert.ok(!existsSync(postmasterPid(data)), 'the CLI left no Postgres running');
  });

  test('a taken port is reported in one line naming EMBEDDED_PG_PORT', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as AddressInfo;
    try {
      const other = await tempDir('kluis-embedded-port');
      const result = await runCli(['keys', 'list'], { KLUIS_DATA_DIR: other.path, EMBEDDED_PG_PORT: String(port) });
      await other.remove();
      assert.equal(result.code, 1);
      assert.match(
        result.stderr.trim(),
        new RegExp(`^kluis: embedded PostgreSQL could not start .* on port ${port}: .*set EMBEDDED_PG_PORT\\)$`),
      );
    } finally {
      blocker.close();
    }
  });

  test('a second start reuses the same data: same keys, same clients', async (t) => {
    const data = await dataDir(t);
    const first = await start(data);
    const client = await addClient(data);
    const kids = await jwksKids(first);
    const password = await demoPassword(first);
    assert.equal(await stop(first), 0);
    const started = Date.now();
    const server = await start(data);
    console.log(`# second start served after ${Date.now() - started} ms`);
    assert.equal(await demoPassword(server), password, 'the same demo password at every start');
    assert.deepEqual(await jwksKids(server), kids);
    const { access_token } = await oidc.clientCredentialsGrant(await relyingParty(server.issuer, client), {});
    assert.ok(access_token);
  });
});

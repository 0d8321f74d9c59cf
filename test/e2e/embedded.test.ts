import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { relyingParty } from '../support/clients.ts';
import { freePort, runCli, spawnKluis, type KluisProcess } from '../support/kluis.ts';
import { tempDir } from '../support/tempdir.ts';

// The newcomer's path: no DATABASE_URL, so `npm start` runs its own PostgreSQL under KLUIS_DATA_DIR.
let dir: Awaited<ReturnType<typeof tempDir>>;
let env: Record<string, string>;
let server: KluisProcess | undefined;

before(async () => {
  dir = await tempDir('kluis-embedded');
  env = { KLUIS_DATA_DIR: dir.path, EMBEDDED_PG_PORT: String(await freePort()) };
});
after(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  await dir.remove();
});

const postmasterPid = () => path.join(dir.path, 'postgres', 'postmaster.pid');

describe('embedded PostgreSQL', () => {
  let client: AdapterPayload;
  let kids: string[];
  let demoPassword: string;

  test('npm start with no DATABASE_URL initialises Postgres under the data dir and serves discovery', async () => {
    const started = Date.now();
    server = await spawnKluis(env);
    const res = await fetch(new URL('/.well-known/openid-configuration', server.issuer));
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { issuer: string }).issuer, server.issuer);
    assert.ok(existsSync(path.join(dir.path, 'postgres', 'PG_VERSION')));
    assert.match(server.output(), /"database":"embedded"/);
    // The plain `npm start` seeds the demo and says how to log in (DEMO=auto: embedded database, http issuer).
    assert.match(server.output(), new RegExp(`open\\s+${server.issuer}/demo\\n\\s+username\\s+demo\\n\\s+password\\s+\\S{16}`));
    demoPassword = /password\s+(\S+)/.exec(server.output())![1]!;
    // Measured, not asserted (speed is the benchmark's business): printed for the record.
    console.log(`# first start with initdb served discovery after ${Date.now() - started} ms`);
  });

  test('the CLI joins the embedded Postgres of the running server; its client gets a token that introspects, then is revoked', async () => {
    const added = await runCli(['clients', 'add'], env, JSON.stringify({ grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }));
    assert.equal(added.code, 0, added.stderr);
    client = JSON.parse(added.stdout) as AdapterPayload;
    const rp = await relyingParty(server!.issuer, client);
    const { access_token } = await oidc.clientCredentialsGrant(rp, {});
    assert.equal((await oidc.tokenIntrospection(rp, access_token)).active, true);
    await oidc.tokenRevocation(rp, access_token);
    assert.equal((await oidc.tokenIntrospection(rp, access_token)).active, false);
    kids = ((await (await fetch(new URL('/jwks', server!.issuer))).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  });

  test('SIGTERM stops the server and the Postgres it started', async () => {
    server!.child.kill('SIGTERM');
    assert.equal(await server!.exited, 0);
    assert.ok(!existsSync(postmasterPid()), 'postmaster.pid is gone: Postgres shut down');
  });

  test('with no server running the CLI starts the embedded Postgres itself and stops it again', async () => {
    const list = await runCli(['clients', 'list'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.ok((JSON.parse(list.stdout) as AdapterPayload[]).some((c) => c.client_id === client.client_id));
    assert.ok(!existsSync(postmasterPid()), 'the CLI left no Postgres running');
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
      assert.match(result.stderr.trim(), new RegExp(`^kluis: embedded PostgreSQL could not start .* on port ${port}: .*set EMBEDDED_PG_PORT\\)$`));
    } finally {
      blocker.close();
    }
  });

  test('a second start reuses the same data: same keys, same clients', async () => {
    const started = Date.now();
    server = await spawnKluis(env);
    console.log(`# second start served after ${Date.now() - started} ms`);
    assert.equal(/password\s+(\S+)/.exec(server.output())?.[1], demoPassword, 'the same demo password at every start');
    const jwks = (await (await fetch(new URL('/jwks', server.issuer))).json()) as { keys: { kid: string }[] };
    assert.deepEqual(jwks.keys.map((k) => k.kid), kids);
    const { access_token } = await oidc.clientCredentialsGrant(await relyingParty(server.issuer, client), {});
    assert.ok(access_token);
  });
});

import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { M2M_METADATA, relyingParty } from '../support/clients.ts';
import type { TestDatabase } from '../support/database.ts';
import { withDatabase, type SeededDatabase } from '../support/fixture.ts';
import { runCli, spawnKluis, type KluisProcess } from '../support/kluis.ts';

// Kluis as an operator runs it: several stateless processes sharing one database.
let t: TestDatabase;
let a: KluisProcess;
let b: KluisProcess;
let client: AdapterPayload;
let house: SeededDatabase<'client', never>;
const processEnv = () => ({ DATABASE_URL: t.url, KEYS_REFRESH_INTERVAL: '1', KEY_ROTATION_OVERLAP: '0' });

before(async () => {
  house = await withDatabase({ clients: { client: M2M_METADATA } });
  t = house.database;
  client = house.clients.client;
  [a, b] = await Promise.all([spawnKluis(processEnv()), spawnKluis(processEnv())]);
});
after(async () => {
  for (const p of [a, b]) if (p && p.child.exitCode === null) p.child.kill('SIGKILL');
  await house?.stop();
});

const jwksKids = async (p: KluisProcess) =>
  ((await (await fetch(new URL('/jwks', p.issuer))).json()) as { keys: { kid: string }[] }).keys
    .map((k) => k.kid)
    .sort();

describe('two processes on one database', () => {
  test('a token issued by one process introspects on the other, and revocation on one holds on both', async () => {
    const rpA = await relyingParty(a.issuer, client);
    const rpB = await relyingParty(b.issuer, client);
    const { access_token } = await oidc.clientCredentialsGrant(rpA, {});
    assert.equal((await oidc.tokenIntrospection(rpB, access_token)).active, true);
    await oidc.tokenRevocation(rpB, access_token);
    assert.equal((await oidc.tokenIntrospection(rpA, access_token)).active, false);
  });

  test('both publish the same keys, and both pick up a rotation without a restart', async () => {
    assert.deepEqual(await jwksKids(a), await jwksKids(b));
    const rotated = await runCli(['keys', 'rotate'], { DATABASE_URL: t.url, KEY_ROTATION_OVERLAP: '0' });
    assert.equal(rotated.code, 0, rotated.stderr);
    const newKids = (JSON.parse(rotated.stdout) as { kid: string }[]).map((r) => r.kid);
    const deadline = Date.now() + 15_000;
    for (const p of [a, b]) {
      let kids = await jwksKids(p);
      while (!newKids.every((kid) => kids.includes(kid))) {
        assert.ok(Date.now() < deadline, 'rotation not picked up in time');
        await new Promise((resolve) => setTimeout(resolve, 200));
        kids = await jwksKids(p);
      }
    }
    assert.deepEqual(await jwksKids(a), await jwksKids(b));
  });

  test('SIGTERM lets an in-flight request finish, then the process exits 0', async (context) => {
    // A third process of its own to stop, so that a and b keep serving the other tests.
    const draining = await spawnKluis(processEnv());
    context.after(() => {
      if (draining.child.exitCode === null) draining.child.kill('SIGKILL');
    });
    const body = 'grant_type=client_credentials';
    const socket = connect(Number(new URL(draining.issuer).port), '127.0.0.1');
    await once(socket, 'connect');
    let response = '';
    socket.on('data', (chunk: Buffer) => (response += chunk.toString()));
    const auth = Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64');
    // Headers and half the body now: the request is in flight when the signal arrives.
    socket.write(
      `POST /token HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic ${auth}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    draining.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(draining.child.exitCode, null, 'still draining');
    socket.write(body.slice(10));
    await once(socket, 'end');
    assert.match(response, /^HTTP\/1.1 200 /);
    assert.match(response, /"access_token"/);
    assert.equal(await draining.exited, 0);
    assert.match(draining.output(), /draining and shutting down/);

    // The other process is unaffected.
    const rpB = await relyingParty(b.issuer, client);
    assert.ok((await oidc.clientCredentialsGrant(rpB, {})).access_token);
  });
});

describe('WORKERS', () => {
  test('WORKERS=2 runs two server processes on one port under a supervisor; SIGTERM drains both and exits 0', async () => {
    const supervised = await spawnKluis({ DATABASE_URL: t.url, WORKERS: '2' });
    try {
      const deadline = Date.now() + 30_000;
      while ((supervised.output().match(/kluis listening/g) ?? []).length < 2 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((supervised.output().match(/kluis listening/g) ?? []).length, 2, supervised.output());
      assert.match(supervised.output(), /"workers":2,.*"kluis supervising workers"/);
      const rp = await relyingParty(supervised.issuer, client);
      const tokens = await Promise.all(Array.from({ length: 10 }, () => oidc.clientCredentialsGrant(rp, {})));
      assert.equal(tokens.filter((t) => t.access_token).length, 10);
      supervised.child.kill('SIGTERM');
      assert.equal(await supervised.exited, 0);
      assert.match(supervised.output(), /stopping workers/);
    } finally {
      if (supervised.child.exitCode === null) supervised.child.kill('SIGKILL');
    }
  });
  test('when every worker dies at once the supervisor starts them again, and still answers', async () => {
    const supervised = await spawnKluis({ DATABASE_URL: t.url, WORKERS: '2' });
    const listening = () => supervised.output().match(/kluis listening/g)?.length ?? 0;
    // The workers are the supervisor's child processes (no embedded database with DATABASE_URL).
    const workers = () =>
      execFileSync('pgrep', ['-P', String(supervised.child.pid)], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map(Number);
    const until = async (count: number) => {
      const deadline = Date.now() + 60_000;
      while (listening() < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(listening(), count, supervised.output());
    };
    try {
      await until(2);
      const first = workers();
      assert.equal(first.length, 2);
      for (const pid of first) process.kill(pid, 'SIGKILL');
      await until(4);
      assert.equal(supervised.child.exitCode, null, 'the supervisor is still running');
      const rp = await relyingParty(supervised.issuer, client);
      assert.ok((await oidc.clientCredentialsGrant(rp, {})).access_token);
      supervised.child.kill('SIGTERM');
      assert.equal(await supervised.exited, 0);
    } finally {
      if (supervised.child.exitCode === null) supervised.child.kill('SIGKILL');
    }
  });
});

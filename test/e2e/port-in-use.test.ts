import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort, GENEROUS_LIMITS, ROOT } from '../support/kluis.ts';

// Another process on Kluis's port (a second npm start, another dev server): one line saying which variable to change.
let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t.drop();
});

async function occupy(port: number): Promise<Server> {
  const server = createServer().listen(port, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** `npm start`'s entry with `env`, until it exits. */
async function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['bin/server.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: t.url, HOST: '127.0.0.1', ...GENEROUS_LIMITS, ...env },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  return { code: code as number | null, stderr };
}

describe('a port already in use', () => {
  /** Kluis started with `env` on a port another process holds: exactly the one line, and exit status 1. */
  async function refusedOnTakenPort(env: Record<string, string> = {}) {
    const port = await freePort();
    const taken = await occupy(port);
    try {
      const { code, stderr } = await start({ PORT: String(port), ISSUER: `http://localhost:${port}`, ...env });
      assert.equal(code, 1);
      assert.equal(
        stderr,
        `kluis: port ${port} is already in use; set PORT to another port or stop the process using it\n`,
      );
    } finally {
      taken.close();
    }
  }

  test('PORT taken: one line naming the port and PORT, exit status 1', () => refusedOnTakenPort());

  test('PORT taken with WORKERS=2: the supervisor says it once and exits with status 1, forking no worker again', () =>
    refusedOnTakenPort({ WORKERS: '2' }));
});

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort, GENEROUS_LIMITS, ROOT, runCli, spawnKluis, type KluisProcess } from '../support/kluis.ts';

// Whoever reads the log: a person at a terminal gets readable lines, a log collector (a pipe, a file) JSON lines.
let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t.drop();
});

const ESC = String.fromCharCode(27);
const PRETTY_LISTENING = /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: kluis listening \{"issuer":"http:\/\/localhost:\d+"/m;

async function stop(server: KluisProcess): Promise<void> {
  server.child.kill('SIGTERM');
  await server.exited;
}

describe('the log format', () => {
  test('without LOG_FORMAT, a log that goes to a pipe is JSON lines', async () => {
    const server = await spawnKluis({ DATABASE_URL: t.url });
    await stop(server);
    const lines = server.output().trimEnd().split('\n');
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
    assert.ok(lines.some((line) => JSON.parse(line).msg === 'kluis listening'));
  });

  test('LOG_FORMAT=pretty gives one readable line per event, time and level first, with no colours in a pipe', async () => {
    const server = await spawnKluis({ DATABASE_URL: t.url, LOG_FORMAT: 'pretty' });
    await stop(server);
    const output = server.output();
    assert.match(output, PRETTY_LISTENING);
    assert.match(output, /^\[[\d:.]+\] INFO: draining and shutting down \{"signal":"SIGTERM"\}$/m);
    assert.ok(!output.includes(`${ESC}[`), 'no colour codes');
    for (const line of output.trimEnd().split('\n')) assert.throws(() => JSON.parse(line), line);
  });

  const script = '/usr/bin/script';
  test('on a terminal the log is readable without LOG_FORMAT', {
    skip: existsSync(script) ? false : `no ${script} (util-linux) to give the server a terminal`,
  }, async () => {
    const port = await freePort();
    // script(1) runs the server on a pseudo-terminal of its own, as a developer's shell would.
    const child = spawn(script, ['-qec', 'node src/main.ts', '/dev/null'], {
      cwd: ROOT,
      detached: true,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        DATABASE_URL: t.url,
        HOST: '127.0.0.1',
        PORT: String(port),
        ...GENEROUS_LIMITS,
      },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      for (const deadline = Date.now() + 60_000; !output.includes('kluis listening'); ) {
        assert.ok(Date.now() < deadline && child.exitCode === null, `the server did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
    }
    const plain = output.replace(new RegExp(`${ESC}\\[\\d+m`, 'g'), '').replaceAll('\r', '');
    assert.match(plain, PRETTY_LISTENING);
    assert.ok(output.includes(`${ESC}[`), 'coloured on a terminal');
  });

  test('a LOG_FORMAT other than auto, json or pretty stops the server with one line', () => {
    const result = spawnSync(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, LOG_FORMAT: 'yaml' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, 'kluis: configuration error: LOG_FORMAT must be auto, json or pretty (got "yaml")\n');
  });

  test('the CLI refuses a bad LOG_FORMAT the same way, before it opens the database', async () => {
    const result = await runCli(['users', 'list'], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
      LOG_FORMAT: 'yaml',
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, 'kluis: LOG_FORMAT must be auto, json or pretty (got "yaml")\n');
  });

  test('a bad LOG_FORMAT is named together with the other bad variables, in one line', () => {
    const result = spawnSync(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, PORT: 'abc', LOG_FORMAT: 'yaml' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.equal(
      result.stderr,
      'kluis: configuration error: PORT must be a TCP port number (1-65535) (got "abc"); ' +
        'LOG_FORMAT must be auto, json or pretty (got "yaml")\n',
    );
  });
});

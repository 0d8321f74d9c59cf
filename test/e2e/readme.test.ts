import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ROOT, spawnKluis, type KluisProcess } from '../support/kluis.ts';

// The README's machine-to-machine example, pasted into a shell as a newcomer would, against a running Kluis (on the
// test's own port instead of 3000).
let t: TestDatabase;
let server: KluisProcess;
before(async () => {
  t = await createTestDatabase();
  server = await spawnKluis({ DATABASE_URL: t.url });
});
after(async () => {
  if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
  await t?.drop();
});

const missing = ['bash', 'curl', 'npm'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);

test("the README's machine-to-machine example sets its variables and gets a token, introspects and revokes it", {
  skip: missing.length > 0 ? `needs ${missing.join(', ')} on PATH` : false,
}, () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const example = /Try it with a machine-to-machine client[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, 'the README has the example');
  const script = example.replaceAll('http://localhost:3000', server.issuer);
  const result = spawnSync('bash', ['-eo', 'pipefail', '-c', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: t.url },
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.trimEnd().split('\n');
  assert.match(lines.at(-2)!, /^\{"active":true,"client_id":"[0-9a-f-]{36}",/);
  assert.equal(lines.at(-1), '{"active":false}');
});

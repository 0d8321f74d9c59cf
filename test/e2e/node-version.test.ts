import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { nodeVersionProblem } from '../../bin/node-version.js';
import { ROOT } from '../support/kluis.ts';

// A newcomer on the distribution's Node.js: the server and the CLI say what they need instead of a stack trace.
// Debian's /usr/bin/node (20 on bookworm) is the old Node.js this needs; without one the test says why it skips.
const OLD_NODE = '/usr/bin/node';
const oldVersion = existsSync(OLD_NODE)
  ? spawnSync(OLD_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim()
  : undefined;
const skip =
  oldVersion === undefined
    ? `no Node.js at ${OLD_NODE}`
    : nodeVersionProblem(oldVersion) === undefined
      ? `${OLD_NODE} is Node.js ${oldVersion}, new enough for Kluis`
      : false;

describe('on a Node.js older than Kluis needs', { skip }, () => {
  for (const [what, entry, args] of [
    ['the server (npm start, the container)', 'bin/server.js', []],
    ['the CLI', 'bin/kluis.js', ['clients', 'list']],
  ] as const) {
    test(`${what} prints one line naming the version needed and found, and exits 1`, () => {
      const result = spawnSync(OLD_NODE, [entry, ...args], {
        cwd: ROOT,
        env: { PATH: '/usr/bin:/bin', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
        encoding: 'utf8',
      });
      assert.equal(result.status, 1);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr, `Kluis needs Node.js 22.18 or newer (found ${oldVersion})\n`);
    });
  }
});

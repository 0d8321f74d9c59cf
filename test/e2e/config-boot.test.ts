import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { runCli, ROOT } from '../support/kluis.ts';

// What an operator sees when the configuration is wrong: the processes stop before they open any database.
describe('configuration at boot', () => {
  test('the server stops with exit status 1 and one line naming the bad variable', () => {
    const result = spawnSync(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, PORT: 'abc' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, 'kluis: configuration error: PORT must be a TCP port number (1-65535) (got "abc")\n');
  });

  test('the server refuses an https issuer without KLUIS_SECRET before touching any database', () => {
    const result = spawnSync(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        ISSUER: 'https://login.bank.example',
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      },
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^kluis: configuration error: KLUIS_SECRET is required when ISSUER is https/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });

  test('the server refuses a bad TRUSTED_PROXIES at boot with one line naming it', () => {
    const result = spawnSync(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, TRUSTED_PROXIES: '10.0.0.0/0' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      /^kluis: configuration error: TRUSTED_PROXIES: "10.0.0.0\/0" is too wide a range to be proxies/,
    );
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });

  test('the CLI reports a configuration error the same way', async () => {
    const result = await runCli(['keys', 'list'], { LOG_LEVEL: 'loud' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^kluis: LOG_LEVEL must be one of/);
  });
});

import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { kluisRefusal, runCli, spawnKluis } from '../support/kluis.ts';
import { STRONG_SECRET } from '../support/secrets.ts';

const PRODUCTION = { ISSUER: 'https://login.bank.example', TRUST_PROXY: 'true', KLUIS_SECRET: STRONG_SECRET };
// Only what an operator sees when Kluis refuses: its one line on stderr, no request or start-up logs.
const QUIET = { LOG_LEVEL: 'warn' };

/** A development database with the demo in it, of this test's own, to start again with an https issuer. */
async function developmentDatabase(context: TestContext): Promise<TestDatabase> {
  const t = await createTestDatabase();
  context.after(() => t.drop());
  const development = await spawnKluis({ DATABASE_URL: t.url, DEMO: 'on', KLUIS_SECRET: STRONG_SECRET });
  development.child.kill('SIGTERM');
  await development.exited;
  return t;
}

describe('demo data in production', () => {
  test('Kluis refuses to start in production while the demo person and client exist, in one line saying how to remove them', async (context) => {
    const t = await developmentDatabase(context);
    const { code, output } = await kluisRefusal({ DATABASE_URL: t.url, ...PRODUCTION, ...QUIET });
    assert.equal(code, 1);
    const lines = output.trim().split('\n');
    assert.equal(lines.length, 1, output);
    assert.match(
      lines[0]!,
      /^kluis: this database holds the development demo's person demo and client kluis-demo, refused when ISSUER is https \(production\): remove them with `kluis users delete demo` and `kluis clients remove kluis-demo`, then start again$/,
    );
    const supervised = await kluisRefusal({ DATABASE_URL: t.url, ...PRODUCTION, ...QUIET, WORKERS: '2' });
    assert.equal(supervised.code, 1);
    assert.match(supervised.output, /^kluis: this database holds the development demo's/);
  });

  test('after the commands it names, Kluis starts', async (context) => {
    const t = await developmentDatabase(context);
    const env = { DATABASE_URL: t.url, ...PRODUCTION };
    assert.equal((await runCli(['users', 'delete', 'demo'], env)).code, 0);
    const { output } = await kluisRefusal({ ...env, ...QUIET });
    assert.match(
      output,
      /^kluis: this database holds the development demo's client kluis-demo, refused .*: remove it with `kluis clients remove kluis-demo`, then start again\n$/,
    );
    const removed = await runCli(['clients', 'remove', 'kluis-demo'], env);
    assert.equal(removed.code, 0, removed.stderr);
    const production = await spawnKluis(env);
    production.child.kill('SIGTERM');
    assert.equal(await production.exited, 0);
  });
});

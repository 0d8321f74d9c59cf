import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import argon2 from 'argon2';
import type { AdapterPayload } from 'oidc-provider';
import { AuditLog } from '../../src/audit/writer.ts';
import { PgAccountStore } from '../../src/db/account-store.ts';
import { PgAuditStore } from '../../src/db/audit-chain.ts';
import { parametersOf } from '../../src/auth/password.ts';
import { SignIn } from '../../src/auth/sign-in.ts';
import { loadConfig } from '../../src/config/env.ts';
import { Database, type Queryable, type Row } from '../../src/db/database.ts';
import { createLogger } from '../../src/log/logger.ts';
import { loadServerSecrets } from '../../src/secrets/server-secrets.ts';
import { Browser, formAction } from '../support/browser.ts';
import { registerClient } from '../support/clients.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestKluis, type TestKluis } from '../support/kluis.ts';
import { addPerson } from '../support/people.ts';
import { REDIRECT, RelyingParty } from '../support/rp.ts';

// Neither step may tell whether the account exists or which factor failed (PSD2 RTS Art 4(3)(a)), and the password
// step is not even counted towards the lockout. This is proven by the work done, not by a stopwatch: what each case
// costs is the argon2 operations (with their parameters) and the database statements it runs, and those must be
// the same. The times are measured as well, and printed, never asserted (a shared CI machine makes them noise).
let t: TestDatabase;
const PASSWORD = 'timing passphrase for ivo';
const ORIGIN = { ip: '192.0.2.10', device: 'timing test' };

/** Every statement a SignIn sends, in order, with the text only (values differ per account and are not work). */
class CountingDatabase extends Database {
  statements: string[] = [];

  override query<R extends Row = Row>(text: string, values?: unknown[]) {
    this.statements.push(text);
    return super.query<R>(text, values);
  }

  override transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return super.transaction((tx) =>
      work({
        query: <R extends Row = Row>(text: string, values?: unknown[]) => {
          this.statements.push(text);
          return tx.query<R>(text, values);
        },
      }),
    );
  }
}

// Every argon2 operation with its cost parameters: the real functions run, they are only tallied.
const argonWork: string[] = [];
const { hash: realHash, verify: realVerify } = argon2;
argon2.hash = ((password: string, options: argon2.HashOptions) => {
  argonWork.push(`hash t=${options.timeCost} m=${options.memoryCost}`);
  return realHash(password, options);
}) as typeof argon2.hash;
argon2.verify = (digest: string, password: string | Buffer) => {
  const parameters = parametersOf(digest);
  argonWork.push(`verify t=${parameters?.iterations} m=${parameters?.memoryKiB}`);
  return realVerify(digest, password);
};

let counting: CountingDatabase;
let secretsOf: Awaited<ReturnType<typeof loadServerSecrets>>;

before(async () => {
  t = await createTestDatabase();
  // Both made with the default argon2 parameters (t=2).
  await addPerson(t.url, 'ivo', PASSWORD, { totp: true });
  await addPerson(t.url, 'una', PASSWORD);
  counting = new CountingDatabase(t.url);
  secretsOf = await loadServerSecrets(t.db, loadConfig({ DATABASE_URL: t.url }));
});
after(async () => {
  await counting?.close();
  await t?.drop();
});

/** A SignIn as the server builds it; `env` changes its settings (ARGON2_ITERATIONS=3: every stored hash is old). */
function signInWith(env: Record<string, string>) {
  const config = loadConfig({ DATABASE_URL: t.url, LOG_LEVEL: 'silent', LOGIN_IP_LIMIT: '100000', ...env });
  const audit = new AuditLog(new PgAuditStore(counting), createLogger('silent'));
  return new SignIn(new PgAccountStore(counting), secretsOf.box, audit, config.sca);
}

async function resetLockout() {
  await t.db.query('update accounts set failed_attempts = 0, locked_until = null, lockouts = 0');
}

/** The work `run` did: argon2 operations, then statements. */
async function workOf(run: () => Promise<unknown>): Promise<{ argon2: string[]; statements: string[] }> {
  argonWork.length = 0;
  counting.statements = [];
  await run();
  return { argon2: [...argonWork], statements: [...counting.statements] };
}

const PASSWORD_CASES = [
  ['unknown user', 'nobody', PASSWORD],
  ['known, wrong password', 'ivo', 'not the password'],
  ['known, right password', 'ivo', PASSWORD],
  ['un-enrolled, wrong password', 'una', 'not the password'],
  ['un-enrolled, right password', 'una', PASSWORD],
] as const;

for (const [setting, env, rehash] of [
  ['the current argon2 settings', {}, false],
  ['argon2 settings changed since the hashes were made', { ARGON2_ITERATIONS: '3' }, true],
] as const) {
  test(`the password step does the same argon2 work and statements for every outcome, with ${setting}`, async () => {
    const signIn = signInWith(env);
    await signIn.passwordStep('warm-up', PASSWORD); // settles the unknown-user dummy once per process
    const work: Record<string, Awaited<ReturnType<typeof workOf>>> = {};
    for (const [kind, username, password] of PASSWORD_CASES) {
      work[kind] = await workOf(() => signIn.passwordStep(username, password));
    }
    const expected = work['known, right password']!;
    // With changed settings, every outcome verifies with the old parameters and computes one new hash, and nothing
    // is written: the new hash waits in the step for the second factor.
    assert.deepEqual(expected.argon2, rehash ? ['verify t=2 m=19456', 'hash t=3 m=19456'] : ['verify t=2 m=19456']);
    assert.ok(!expected.statements.some((text) => /update accounts/.test(text)), 'the password step writes no hash');
    for (const [kind, done] of Object.entries(work))
      assert.deepEqual(done, expected, `${kind}: as for a right password`);
  });
}

const CODES = [
  ['a 6-digit code', '000000'],
  ['a recovery-code format', 'abcd-efgh-jkmn-pqrs-tuvw-xyz2'],
  ['an activation-code format', 'abcd-efgh-jkmn-pqrs-tuvw'],
] as const;

test('the second step does the same argon2 work and as many statements for every failure, after an argon2 change', async () => {
  const signIn = signInWith({ ARGON2_ITERATIONS: '3' });
  await signIn.passwordStep('warm-up', PASSWORD);
  for (const [format, code] of CODES) {
    const work: Record<string, Awaited<ReturnType<typeof workOf>>> = {};
    for (const [kind, username, password] of [
      ['unknown user', 'nobody', PASSWORD],
      ['known, wrong password', 'ivo', 'not the password'],
      ['known, wrong code', 'ivo', PASSWORD],
      ['un-enrolled, wrong code', 'una', PASSWORD],
      ['un-enrolled, wrong password', 'una', 'not the password'],
    ] as const) {
      await resetLockout();
      const step = await signIn.passwordStep(username, password);
      work[kind] = await workOf(async () => assert.equal((await signIn.secondStep(step, code, ORIGIN)).ok, false));
    }
    const expected = work['unknown user']!;
    assert.deepEqual(expected.argon2, [], 'no argon2 in the second step');
    for (const [kind, done] of Object.entries(work)) {
      assert.equal(
        done.statements.length,
        expected.statements.length,
        `${format}, ${kind}: as many statements as unknown`,
      );
      // A 6-digit code runs the very same statements for everyone; a longer code looks up a recovery code for an
      // enrolled account and an activation code otherwise (one statement each, on a primary-key prefix).
      if (code === '000000')
        assert.deepEqual(done.statements, expected.statements, `${format}, ${kind}: same statements`);
    }
  }
});

// For the record only: wall-clock medians over HTTP, interleaved, with every stored hash of older settings.
const SAMPLES = 15;
let kluis: TestKluis | undefined;
after(async () => {
  await kluis?.stop();
});

test('measured (printed, not asserted): medians of both steps for each outcome', async () => {
  const web = await registerClient(t.url, { redirect_uris: [REDIRECT], scope: 'openid profile email' });
  kluis = await startTestKluis(t.url, { LOGIN_IP_LIMIT: '100000', ARGON2_ITERATIONS: '3' });
  const rp = await RelyingParty.create(kluis.issuer, web as AdapterPayload);
  const kinds = [
    ['unknown', 'nobody', PASSWORD],
    ['wrong password', 'ivo', 'not the password'],
    ['wrong code', 'ivo', PASSWORD],
    ['un-enrolled', 'una', PASSWORD],
  ] as const;
  const times: Record<string, { password: number[]; code: number[] }> = {};
  for (let i = 0; i <= SAMPLES; i += 1) {
    for (const [kind, username, password] of kinds) {
      await resetLockout();
      const browser = new Browser(kluis.issuer);
      const { res } = await browser.follow((await rp.request()).url);
      const page = await res.text();
      let started = performance.now();
      const { res: mfa } = await browser.submit(formAction(page, 'login'), page, { username, password });
      const mfaPage = await mfa.text();
      const passwordMs = performance.now() - started;
      started = performance.now();
      await browser.submit(formAction(mfaPage, 'mfa'), mfaPage, { code: '000000' });
      const codeMs = performance.now() - started;
      if (i === 0) continue; // warm-up round
      const entry = times[kind] ?? { password: [], code: [] };
      times[kind] = entry;
      entry.password.push(passwordMs);
      entry.code.push(codeMs);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  for (const step of ['password', 'code'] as const) {
    const line = Object.entries(times)
      .map(([kind, ms]) => `${kind} ${median(ms[step]).toFixed(2)}`)
      .join(', ');
    console.log(`# ${step} step medians over ${SAMPLES} samples, stored hashes t=2, Kluis t=3 (ms): ${line}`);
  }
});

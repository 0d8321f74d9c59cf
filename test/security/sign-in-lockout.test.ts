import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AuditLog } from '../../src/audit/writer.ts';
import { PgAccountStore } from '../../src/db/account-store.ts';
import { PgAuditStore } from '../../src/db/audit-chain.ts';
import { SignIn } from '../../src/auth/sign-in.ts';
import { loadConfig } from '../../src/config/env.ts';
import { createLogger } from '../../src/log/logger.ts';
import { loadServerSecrets } from '../../src/secrets/server-secrets.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runCli } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';

// The per-account lockout (PSD2 RTS Art 4(3)(b)) is a lever for anyone who knows a username: it must not grow
// without end, nor fill the person's security activity, nor break the account (checklist B1).
let t: TestDatabase;
let signIn: SignIn;
const PASSWORD = 'lockout passphrase';
const ORIGIN = { ip: '192.0.2.20', device: 'lockout test' };
// Defaults: LOCKOUT_THRESHOLD 5, LOCKOUT_DURATION 300 s, LOCKOUT_MAX_DURATION 86400 s.
const config = () => loadConfig({ DATABASE_URL: t.url, LOG_LEVEL: 'silent', LOGIN_IP_LIMIT: '100000' });

before(async () => {
  t = await createTestDatabase();
  const secrets = await loadServerSecrets(t.db, config());
  const audit = new AuditLog(new PgAuditStore(t.db), createLogger('silent'));
  signIn = new SignIn(new PgAccountStore(t.db), secrets.box, audit, config().sca);
});
after(async () => {
  await t?.drop();
});

async function attempt(username: string, password: string, code: string) {
  return signIn.secondStep(await signIn.passwordStep(username, password), code, ORIGIN);
}

async function state(id: string) {
  const { rows } = await t.db.query<{ lockouts: number; failed_attempts: number; seconds: number | null }>(
    `select lockouts, failed_attempts, extract(epoch from locked_until - now())::float8 as seconds
     from accounts where id = $1`,
    [id],
  );
  return rows[0]!;
}

async function lockNow(username: string) {
  for (let i = 0; i < 5; i += 1) await attempt(username, 'wrong password', '000000');
}

test('a lock that ended over LOCKOUT_MAX_DURATION ago no longer lengthens the next one; a recent one does', async () => {
  const { id } = await addPerson(t.url, 'quiet', PASSWORD, { totp: true });
  const endedAgo = (seconds: number) =>
    t.db.query(`update accounts set lockouts = 9, locked_until = now() - make_interval(secs => $2) where id = $1`, [
      id,
      seconds,
    ]);
  await endedAgo(86401);
  await lockNow('quiet');
  let now = await state(id);
  assert.equal(now.lockouts, 1, 'the doubling started again');
  assert.ok(now.seconds! > 290 && now.seconds! <= 300, `locked for LOCKOUT_DURATION, not ${now.seconds} s`);

  await endedAgo(10);
  await lockNow('quiet');
  now = await state(id);
  assert.equal(now.lockouts, 10);
  assert.ok(now.seconds! > 86390, `a lock right after the last one is LOCKOUT_MAX_DURATION long (${now.seconds} s)`);
});

test('users unlock also resets the doubling', async () => {
  const { id } = await addPerson(t.url, 'unlocked', PASSWORD, { totp: true });
  await t.db.query(`update accounts set lockouts = 9, locked_until = now() + interval '1 day' where id = $1`, [id]);
  const unlocked = await runCli(['users', 'unlock', 'unlocked'], { DATABASE_URL: t.url, LOG_LEVEL: 'silent' });
  assert.equal(unlocked.code, 0, unlocked.stderr);
  assert.deepEqual(await state(id), { lockouts: 0, failed_attempts: 0, seconds: null });
  await lockNow('unlocked');
  assert.ok((await state(id)).seconds! <= 300, 'the next lock is LOCKOUT_DURATION long');
});

test('attempts refused while locked add nothing to the security activity; the lock is entered there once', async () => {
  const { id } = await addPerson(t.url, 'pestered', PASSWORD, { totp: true });
  await lockNow('pestered');
  const events = async () =>
    (
      await t.db.query<{ type: string }>('select type from security_events where account_id = $1 order by id', [id])
    ).rows.map((r) => r.type);
  assert.deepEqual(await events(), [...Array(5).fill('login.failed'), 'account.locked']);
  for (let i = 0; i < 30; i += 1) {
    assert.deepEqual(await attempt('pestered', 'wrong password', '000000'), { ok: false, reason: 'locked' });
  }
  assert.equal((await events()).length, 6, 'no row per refused attempt');
  const { rows } = await t.db.query<{ n: number }>(
    `select count(*)::int as n from audit_events where type = 'account.locked' and account_id = $1`,
    [id],
  );
  assert.equal(rows[0]!.n, 1, 'one account.locked per lockout in the audit log');
});

test('after 1100 lockouts the right credentials still sign in, a failure locks for LOCKOUT_MAX_DURATION', async () => {
  const { id, secret } = await addPerson(t.url, 'veteran', PASSWORD, { totp: true });
  // The attempt that reaches the threshold computes the next lock's length, even when it then succeeds.
  const recentlyUnlocked = `update accounts
    set lockouts = 1100, failed_attempts = 4, locked_until = now() - interval '1 second' where id = $1`;
  await t.db.query(recentlyUnlocked, [id]);
  const right = await attempt('veteran', PASSWORD, await totpCode(secret!));
  assert.equal(right.ok, true, 'signed in');

  await t.db.query(recentlyUnlocked, [id]);
  assert.deepEqual(await attempt('veteran', 'wrong password', '000000'), { ok: false, reason: 'locked' });
  const now = await state(id);
  assert.ok(now.seconds! > 86390 && now.seconds! <= 86400, `locked for LOCKOUT_MAX_DURATION (${now.seconds} s)`);
});

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { type AttemptPolicy, PgAccountStore } from '../../src/db/account-store.ts';
import { Database, type Row } from '../../src/db/database.ts';
import { type TestDatabase, withTestDatabase } from '../support/database.ts';

// The AccountStore's promises on real Postgres: what SignIn (test/unit/sign-in.test.ts drives it against a fake)
// relies on. The atomic ones are raced: of parallel calls with one code or step, exactly one wins.
const POLICY: AttemptPolicy = {
  lockout: { threshold: 5, baseSeconds: 300, maxSeconds: 86_400 },
  ipLimit: { failures: 1_000, windowSeconds: 900 },
};
const ORIGIN = { ip: '192.0.2.30', device: 'contract test' };
const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo';

/** A store on a database of the test's own, dropped afterwards. */
function withStore(run: (store: PgAccountStore, t: TestDatabase) => Promise<void>): Promise<void> {
  return withTestDatabase((t) => run(new PgAccountStore(t.db), t));
}

async function person(store: PgAccountStore, username = `p${randomUUID().slice(0, 8)}`, totp = true): Promise<string> {
  const id = randomUUID();
  await store.insert({
    id,
    username,
    email: null,
    passwordHash: HASH,
    claims: {},
    totpSecretEncrypted: totp ? 'sealed secret' : null,
  });
  return id;
}

const parallel = <T>(n: number, run: () => Promise<T>) => Promise.all(Array.from({ length: n }, run));
const count = (results: boolean[]) => results.filter(Boolean).length;

describe('accounts', () => {
  test('an account is found by its id and by its username in any case; the list is ordered by username', () =>
    withStore(async (store) => {
      const id = await person(store, 'Zoë');
      await person(store, 'adam');
      assert.equal((await store.findByUsername('zoË'))?.id, id);
      assert.equal((await store.findById(id))?.username, 'Zoë');
      assert.equal(await store.findByUsername('nobody'), undefined);
      assert.deepEqual(
        (await store.list()).map((a) => a.username),
        ['adam', 'Zoë'],
      );
    }));

  test('lookups by id asked for together share one statement, and each caller gets a record of its own', () =>
    withTestDatabase(async (t) => {
      let statements = 0;
      class Counting extends Database {
        override query<R extends Row = Row>(text: string, values?: unknown[]) {
          statements += 1;
          return super.query<R>(text, values);
        }
      }
      const db = new Counting(t.url);
      try {
        const store = new PgAccountStore(db);
        const [a, b] = [await person(store, 'ann'), await person(store, 'bob')];
        statements = 0;
        const [first, second, other, none] = await Promise.all([
          store.findById(a),
          store.findById(a),
          store.findById(b),
          store.findById(randomUUID()),
        ]);
        assert.equal(statements, 1);
        assert.deepEqual([first?.username, second?.username, other?.username, none], ['ann', 'ann', 'bob', undefined]);
        first!.claims.changed = true;
        assert.equal(second!.claims.changed, undefined, 'not the same claims object');
      } finally {
        await db.close();
      }
    }));

  test('the common password parameters are those most stored hashes share, and undefined without accounts', () =>
    withStore(async (store) => {
      assert.equal(await store.commonPasswordParameters(), undefined);
      await person(store);
      await person(store);
      const other = await person(store);
      await store.updatePasswordHash(other, '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo');
      assert.equal(await store.commonPasswordParameters(), '$argon2id$v=19$m=19456,t=2,p=1$');
    }));
});

describe('sign-in attempts', () => {
  test('a failed attempt reaching the threshold locks the account; later attempts are refused unjudged', () =>
    withStore(async (store) => {
      const id = await person(store);
      for (let attempt = 1; attempt <= 4; attempt += 1) {
        const reserved = await store.reserveAttempt(id, ORIGIN, POLICY);
        assert.deepEqual([reserved.reserved, reserved.attempt, reserved.lockedUntil], [true, attempt, null]);
      }
      const fifth = await store.reserveAttempt(id, ORIGIN, POLICY);
      assert.equal(fifth.reserved, true, 'the attempt that locks is still judged');
      assert.equal(fifth.lockouts, 1);
      const seconds = ((fifth.lockedUntil?.getTime() ?? 0) - Date.now()) / 1000;
      assert.ok(seconds > 290 && seconds <= 300, `locked for the base duration (${seconds} s)`);
      const refused = await store.reserveAttempt(id, ORIGIN, POLICY);
      assert.deepEqual([refused.reserved, refused.eventId, refused.account?.id], [false, null, id]);
    }));

  test('of 20 parallel attempts on one account, no more than the threshold are judged', () =>
    withStore(async (store) => {
      const id = await person(store);
      const attempts = await parallel(20, () => store.reserveAttempt(id, ORIGIN, POLICY));
      assert.equal(attempts.filter((a) => a.reserved).length, 5);
      assert.equal(attempts.filter((a) => a.lockedUntil).length, 1, 'one attempt set the lock');
    }));

  test('a success clears the failures, gives the address its failure back and turns the event into a success', () =>
    withStore(async (store) => {
      const id = await person(store);
      await store.reserveAttempt(id, ORIGIN, POLICY);
      const attempt = await store.reserveAttempt(id, ORIGIN, POLICY);
      assert.equal(await store.ipFailures(ORIGIN.ip, 900), 2);
      await store.attemptSucceeded(id, ORIGIN.ip, attempt.eventId, 'login.succeeded');
      assert.equal(await store.ipFailures(ORIGIN.ip, 900), 1);
      assert.equal((await store.findById(id))?.failedAttempts, 0);
      const events = await store.securityEventsFor(id);
      assert.deepEqual(
        events.map((e) => e.type),
        ['login.succeeded', 'login.failed'],
        'newest first',
      );
      assert.equal((await store.reserveAttempt(id, ORIGIN, POLICY)).attempt, 1, 'counting starts again');
    }));

  test('an address at its failure limit reserves nothing, for any account', () =>
    withStore(async (store) => {
      const [first, second] = [await person(store), await person(store)];
      const policy = { ...POLICY, ipLimit: { failures: 2, windowSeconds: 900 } };
      await store.reserveAttempt(first, ORIGIN, policy);
      await store.reserveAttempt(null, ORIGIN, policy);
      const throttled = await store.reserveAttempt(second, ORIGIN, policy);
      assert.deepEqual([throttled.ipAllowed, throttled.reserved], [false, false]);
      assert.equal((await store.findById(second))?.failedAttempts, 0, 'the account was not counted');
      assert.equal((await store.reserveAttempt(second, { ...ORIGIN, ip: '192.0.2.31' }, policy)).reserved, true);
    }));

  test('an unknown account reserves only the address: no account, no event', () =>
    withStore(async (store) => {
      const attempt = await store.reserveAttempt(null, ORIGIN, POLICY);
      const { ipAllowed, reserved, account, eventId } = attempt;
      assert.deepEqual([ipAllowed, reserved, account, eventId], [true, false, undefined, null]);
      assert.equal(await store.ipFailures(ORIGIN.ip, 900), 1);
    }));

  test('a disabled account is refused unjudged and not counted', () =>
    withStore(async (store) => {
      const id = await person(store);
      await store.setStatus(id, 'disabled');
      const attempt = await store.reserveAttempt(id, ORIGIN, POLICY);
      assert.deepEqual([attempt.reserved, attempt.account?.status], [false, 'disabled']);
    }));

  test('unlock clears the lock and its doubling', () =>
    withStore(async (store) => {
      const id = await person(store);
      await parallel(5, () => store.reserveAttempt(id, ORIGIN, POLICY));
      assert.ok((await store.findById(id))?.lockedUntil);
      await store.unlock(id);
      const account = await store.findById(id);
      assert.deepEqual([account?.lockedUntil, account?.lockouts, account?.failedAttempts], [null, 0, 0]);
    }));

  test('a sign-in step is consumed once even under 20 parallel uses', () =>
    withStore(async (store) => {
      const step = await store.openSignInStep();
      assert.equal(count(await parallel(20, () => store.consumeSignInStep(step))), 1);
      assert.equal(await store.consumeSignInStep('never opened'), false);
    }));
});

describe('second factors', () => {
  test('a TOTP step is accepted once even under 20 parallel uses, and no earlier step after it', () =>
    withStore(async (store) => {
      const id = await person(store);
      assert.equal(count(await parallel(20, () => store.acceptTotpStep(id, 1_000))), 1);
      assert.equal(await store.acceptTotpStep(id, 999), false);
      assert.equal(await store.acceptTotpStep(id, 1_001), true);
    }));

  test('a recovery code is used once even under 20 parallel uses, and never when not allowed', () =>
    withStore(async (store) => {
      const id = await person(store);
      await store.replaceRecoveryCodes(id, ['a', 'b']);
      assert.equal(await store.useRecoveryCode(id, { keyed: 'a', legacy: null }, false), false);
      assert.equal(count(await parallel(20, () => store.useRecoveryCode(id, { keyed: 'a', legacy: null }, true))), 1);
      assert.equal(await store.unusedRecoveryCodes(id), 1);
    }));

  test('new recovery codes replace every old one', () =>
    withStore(async (store) => {
      const id = await person(store);
      await store.replaceRecoveryCodes(id, ['old 1', 'old 2']);
      await store.replaceRecoveryCodes(id, ['new 1', 'new 2', 'new 3']);
      assert.equal(await store.unusedRecoveryCodes(id), 3);
      assert.equal(await store.useRecoveryCode(id, { keyed: 'old 1', legacy: null }, true), false);
      assert.equal(await store.useRecoveryCode(id, { keyed: 'new 1', legacy: null }, true), true);
    }));

  test('a first authenticator is stored once of 10 parallel enrolments, with its recovery codes', () =>
    withStore(async (store) => {
      const id = await person(store, undefined, false);
      const enrolled = await parallel(10, () => store.enrolFirstTotp(id, `sealed ${randomUUID()}`, 7, ['c1', 'c2']));
      assert.equal(count(enrolled), 1);
      assert.equal((await store.findById(id))?.totpLastStep, 7);
      assert.equal(await store.unusedRecoveryCodes(id), 2);
    }));

  test('no first authenticator is stored while an activation code is outstanding', () =>
    withStore(async (store) => {
      const id = await person(store, undefined, false);
      await store.setActivationCode(id, 'code hash', 600);
      assert.equal(await store.enrolFirstTotp(id, 'sealed', 7, ['c1']), false);
      assert.equal((await store.findById(id))?.totpSecretEncrypted, null);
      assert.equal(await store.unusedRecoveryCodes(id), 0);
    }));

  test('re-enrolment replaces the authenticator and the recovery codes; a reset removes both', () =>
    withStore(async (store) => {
      const id = await person(store);
      await store.replaceRecoveryCodes(id, ['old']);
      await store.replaceTotp(id, 'new sealed', 9, ['n1', 'n2']);
      const account = await store.findById(id);
      assert.deepEqual([account?.totpSecretEncrypted, account?.totpLastStep], ['new sealed', 9]);
      assert.equal(await store.unusedRecoveryCodes(id), 2);
      await store.resetMfa(id);
      assert.equal((await store.findById(id))?.totpSecretEncrypted, null);
      assert.equal(await store.unusedRecoveryCodes(id), 0);
    }));

  // Two replacements queued behind another writer of the account row (a sign-in's reservation, an unlock), as two
  // tabs confirming one re-enrolment would be: only the set of the one that wrote last may stay valid.
  async function racingBehindALock(t: TestDatabase, id: string, replace: (tag: string) => Promise<void>) {
    let first!: Promise<void>;
    let second!: Promise<void>;
    await t.db.transaction(async (tx) => {
      await tx.query('select 1 from accounts where id = $1 for update', [id]);
      first = replace('a');
      await sleep(150);
      second = replace('b');
      await sleep(150);
    });
    await Promise.all([first, second]);
    const { rows } = await t.db.query<{ code_hash: string }>(
      'select code_hash from recovery_codes where account_id = $1 and used_at is null order by code_hash',
      [id],
    );
    return rows.map((row) => row.code_hash);
  }
  const tenCodes = (tag: string) => Array.from({ length: 10 }, (_, i) => `${tag}-${i}`);

  test('of two racing re-enrolments only the recovery codes of the authenticator that stays are valid', () =>
    withStore(async (store, t) => {
      const id = await person(store);
      await store.replaceRecoveryCodes(id, tenCodes('old'));
      const valid = await racingBehindALock(t, id, (tag) => store.replaceTotp(id, `secret-${tag}`, 1, tenCodes(tag)));
      const kept = (await store.findById(id))?.totpSecretEncrypted === 'secret-a' ? 'a' : 'b';
      assert.deepEqual(valid, tenCodes(kept).sort());
    }));

  test('of two racing regenerations of recovery codes only one set of ten is valid', () =>
    withStore(async (store, t) => {
      const id = await person(store);
      await store.replaceRecoveryCodes(id, tenCodes('old'));
      const valid = await racingBehindALock(t, id, (tag) => store.replaceRecoveryCodes(id, tenCodes(tag)));
      assert.ok(
        [tenCodes('a').sort(), tenCodes('b').sort()].some((set) => set.join() === valid.join()),
        `${valid}`,
      );
    }));

  test('a store built on a caller’s transaction replaces codes inside it, and rolls back with it', () =>
    withStore(async (store, t) => {
      const id = await person(store);
      await store.replaceRecoveryCodes(id, ['kept']);
      await assert.rejects(
        t.db.transaction(async (tx) => {
          await new PgAccountStore(tx).replaceTotp(id, 'never', 3, ['gone']);
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.equal((await store.findById(id))?.totpSecretEncrypted, 'sealed secret');
      assert.equal(await store.unusedRecoveryCodes(id), 1);
    }));
});

describe('activation codes', () => {
  test('an activation code is consumed once even under 20 parallel uses', () =>
    withStore(async (store) => {
      const id = await person(store, undefined, false);
      const expires = await store.setActivationCode(id, 'code hash', 600);
      assert.deepEqual(await store.activationCodeExpiries(), new Map([[id, expires]]));
      assert.equal(count(await parallel(20, () => store.consumeActivationCode(id, 'code hash', true))), 1);
      assert.equal((await store.activationCodeExpiries()).size, 0);
    }));

  test('a wrong, replaced, expired or not allowed activation code is not consumed', () =>
    withStore(async (store, t) => {
      const id = await person(store, undefined, false);
      await store.setActivationCode(id, 'first', 600);
      await store.setActivationCode(id, 'second', 600);
      assert.equal(await store.consumeActivationCode(id, 'first', true), false, 'replaced');
      assert.equal(await store.consumeActivationCode(id, 'wrong', true), false, 'wrong');
      assert.equal(await store.consumeActivationCode(id, 'second', false), false, 'not allowed');
      await t.db.query(`update activation_codes set expires_at = now() - interval '1 second'`);
      assert.equal(await store.consumeActivationCode(id, 'second', true), false, 'expired');
    }));
});

describe('security activity', () => {
  test('security events are kept with their origin and listed newest first, up to the limit', () =>
    withStore(async (store) => {
      const id = await person(store);
      await store.recordSecurityEvent(id, 'mfa.enrolled', ORIGIN);
      await store.recordSecurityEvent(id, 'account.unlocked');
      const [newest, older] = await store.securityEventsFor(id);
      assert.deepEqual([newest?.type, newest?.ip, newest?.device], ['account.unlocked', null, null]);
      assert.deepEqual([older?.type, older?.ip, older?.device], ['mfa.enrolled', ORIGIN.ip, ORIGIN.device]);
      assert.equal((await store.securityEventsFor(id, 1)).length, 1);
    }));
});

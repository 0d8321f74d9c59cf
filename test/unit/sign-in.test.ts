import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeEach, describe, test } from 'node:test';
import { generate } from 'otplib';
import { hashActivationCode } from '../../src/auth/activation-codes.ts';
import { PasswordHasher } from '../../src/auth/password.ts';
import { SignIn, TOTP_PURPOSE } from '../../src/auth/sign-in.ts';
import { newTotpSecret } from '../../src/auth/totp.ts';
import { AuditLog } from '../../src/audit/writer.ts';
import { loadConfig } from '../../src/config/env.ts';
import type { AccountStore, AttemptOrigin, AttemptPolicy } from '../../src/db/account-store.ts';
import type { AccountRecord, NewAccount } from '../../src/db/accounts.ts';
import type { NewAuditEvent } from '../../src/db/audit-chain.ts';
import type { Reservation } from '../../src/db/lockout.ts';
import type { SecurityEvent, SecurityEventType } from '../../src/db/security-events.ts';
import { createLogger } from '../../src/log/logger.ts';
import { SecretBox } from '../../src/secrets/secret-box.ts';

// SignIn's decisions (PSD2 RTS Art 4) against an in-memory AccountStore, no Postgres: what it asks the store and
// what it concludes. The store's own promises (one statement reserves an attempt, one winner per code) are proven on
// real Postgres in test/contract/accounts.test.ts; this fake keeps the same rules in plain code.

/** The AccountStore's rules in memory; `calls` lists the methods SignIn used, in order. */
class MemoryAccountStore implements AccountStore {
  readonly calls: string[] = [];
  readonly accounts = new Map<string, AccountRecord>();
  readonly ips = new Map<string, { start: number; failures: number }>();
  readonly steps = new Set<string>();
  readonly activation = new Map<string, { hash: string; expires: number }>();
  readonly recovery = new Map<string, { hash: string; used: boolean }[]>();
  readonly events: (SecurityEvent & { id: string; accountId: string })[] = [];

  #called(name: string) {
    this.calls.push(name);
  }

  /** An account SignIn names by id exists: it got the id from the store. */
  #account(id: string): AccountRecord {
    const account = this.accounts.get(id);
    if (!account) throw new Error(`no account ${id}`);
    return account;
  }

  async insert(account: NewAccount) {
    const record = { ...account, status: 'active' as const, totpLastStep: null, failedAttempts: 0, lockouts: 0 };
    this.accounts.set(account.id, { ...record, lockedUntil: null, createdAt: new Date() });
  }

  async findById(id: string) {
    this.#called('findById');
    const account = this.accounts.get(id);
    return account && { ...account };
  }

  async findByUsername(username: string) {
    this.#called('findByUsername');
    const account = [...this.accounts.values()].find((a) => a.username.toLowerCase() === username.toLowerCase());
    return account && { ...account };
  }

  async commonPasswordParameters() {
    this.#called('commonPasswordParameters');
    return undefined;
  }

  async updatePasswordHash(id: string, passwordHash: string) {
    this.#called('updatePasswordHash');
    this.#account(id).passwordHash = passwordHash;
  }

  async setStatus(id: string, status: 'active' | 'disabled') {
    this.#account(id).status = status;
  }

  async list() {
    return [...this.accounts.values()].sort((a, b) => a.username.localeCompare(b.username));
  }

  async openSignInStep() {
    this.#called('openSignInStep');
    const id = randomUUID();
    this.steps.add(id);
    return id;
  }

  async consumeSignInStep(id: string) {
    this.#called('consumeSignInStep');
    return this.steps.delete(id);
  }

  async ipFailures(ip: string, windowSeconds: number) {
    this.#called('ipFailures');
    const counted = this.ips.get(ip);
    return counted && counted.start >= Date.now() - windowSeconds * 1000 ? counted.failures : 0;
  }

  async reserveAttempt(accountId: string | null, origin: AttemptOrigin, policy: AttemptPolicy): Promise<Reservation> {
    this.#called('reserveAttempt');
    const now = Date.now();
    const stored = accountId === null ? undefined : this.accounts.get(accountId);
    // As the statement's result: the account as it was before this attempt.
    const before = stored && { ...stored };
    const refused = { account: before, reserved: false, attempt: null, lockedUntil: null, lockouts: null };
    const ip = this.ips.get(origin.ip);
    const windowOver = !ip || ip.start < now - policy.ipLimit.windowSeconds * 1000;
    if (!windowOver && ip.failures >= policy.ipLimit.failures) return { ipAllowed: false, ...refused, eventId: null };
    this.ips.set(origin.ip, windowOver ? { start: now, failures: 1 } : { ...ip, failures: ip.failures + 1 });
    if (stored?.status !== 'active' || (stored.lockedUntil?.getTime() ?? 0) > now) {
      return { ipAllowed: true, ...refused, eventId: null };
    }
    const { threshold, baseSeconds, maxSeconds } = policy.lockout;
    let lockedUntil: Date | null = null;
    let attempt = stored.failedAttempts + 1;
    if (attempt >= threshold) {
      const recentLock = stored.lockedUntil && stored.lockedUntil.getTime() > now - maxSeconds * 1000;
      const recent = recentLock ? stored.lockouts : 0;
      lockedUntil = new Date(now + 1000 * Math.min(maxSeconds, baseSeconds * 2 ** Math.min(recent, 30)));
      Object.assign(stored, { failedAttempts: 0, lockouts: recent + 1, lockedUntil });
      attempt = threshold;
    } else {
      stored.failedAttempts = attempt;
    }
    const eventId = String(this.events.length + 1);
    this.events.push({ id: eventId, accountId: stored.id, type: 'login.failed', occurredAt: new Date(), ...origin });
    return { ipAllowed: true, ...refused, reserved: true, attempt, lockedUntil, lockouts: stored.lockouts, eventId };
  }

  async attemptSucceeded(accountId: string, ip: string, eventId: string | null, eventType: SecurityEventType) {
    this.#called('attemptSucceeded');
    Object.assign(this.#account(accountId), { failedAttempts: 0, lockouts: 0, lockedUntil: null });
    const counted = this.ips.get(ip);
    if (counted) counted.failures = Math.max(counted.failures - 1, 0);
    const event = this.events.find((e) => e.id === eventId && e.accountId === accountId);
    if (event) event.type = eventType;
  }

  async unlock(id: string) {
    Object.assign(this.#account(id), { failedAttempts: 0, lockouts: 0, lockedUntil: null });
  }

  async acceptTotpStep(id: string, step: number) {
    this.#called('acceptTotpStep');
    const account = this.#account(id);
    if (account.totpLastStep !== null && account.totpLastStep >= step) return false;
    account.totpLastStep = step;
    return true;
  }

  async enrolFirstTotp(id: string, secretEncrypted: string, step: number, codeHashes: string[]) {
    this.#called('enrolFirstTotp');
    const account = this.#account(id);
    if (account.status !== 'active' || account.totpSecretEncrypted !== null || this.activation.has(id)) return false;
    await this.replaceTotp(id, secretEncrypted, step, codeHashes);
    return true;
  }

  async replaceTotp(id: string, secretEncrypted: string, step: number, codeHashes: string[]) {
    Object.assign(this.#account(id), { totpSecretEncrypted: secretEncrypted, totpLastStep: step });
    await this.replaceRecoveryCodes(id, codeHashes);
  }

  async replaceRecoveryCodes(id: string, codeHashes: string[]) {
    this.recovery.set(
      id,
      codeHashes.map((hash) => ({ hash, used: false })),
    );
  }

  async useRecoveryCode(accountId: string, hashes: { keyed: string; legacy: string | null }, allowed: boolean) {
    this.#called('useRecoveryCode');
    const code = this.recovery.get(accountId)?.find((c) => !c.used && c.hash === hashes.keyed);
    if (!allowed || !code) return false;
    code.used = true;
    return true;
  }

  async unusedRecoveryCodes(accountId: string) {
    this.#called('unusedRecoveryCodes');
    return (this.recovery.get(accountId) ?? []).filter((c) => !c.used).length;
  }

  async resetMfa(id: string) {
    Object.assign(this.#account(id), { totpSecretEncrypted: null, totpLastStep: null });
    this.recovery.delete(id);
  }

  async setActivationCode(accountId: string, codeHash: string, ttlSeconds: number) {
    const expires = Date.now() + ttlSeconds * 1000;
    this.activation.set(accountId, { hash: codeHash, expires });
    return new Date(expires);
  }

  async consumeActivationCode(accountId: string, codeHash: string, allowed: boolean) {
    this.#called('consumeActivationCode');
    const code = this.activation.get(accountId);
    if (!allowed || !code || code.hash !== codeHash || code.expires <= Date.now()) return false;
    return this.activation.delete(accountId);
  }

  async activationCodeExpiries() {
    return new Map([...this.activation].map(([id, code]) => [id, new Date(code.expires)]));
  }

  async recordSecurityEvent(accountId: string, type: SecurityEventType, where: { ip?: string; device?: string } = {}) {
    this.#called('recordSecurityEvent');
    const event = { ip: where.ip ?? null, device: where.device ?? null, occurredAt: new Date() };
    this.events.push({ id: String(this.events.length + 1), accountId, type, ...event });
  }

  async securityEventsFor(accountId: string, limit = 50) {
    return this.events
      .filter((e) => e.accountId === accountId)
      .reverse()
      .slice(0, limit);
  }
}

const PASSWORD = 'unit passphrase';
const ORIGIN = { ip: '192.0.2.40', device: 'unit test' };
// Defaults: LOCKOUT_THRESHOLD 5.
const config = loadConfig({ DATABASE_URL: 'postgres://unused.invalid/k', LOG_LEVEL: 'silent', LOGIN_IP_LIMIT: '8' });
const box = SecretBox.fromMasterSecret(randomBytes(32).toString('base64url'));
const passwordHash = await new PasswordHasher(config.sca.argon2).hash(PASSWORD);

let store: MemoryAccountStore;
let audited: NewAuditEvent[];
let signIn: SignIn;

beforeEach(() => {
  store = new MemoryAccountStore();
  audited = [];
  const audit = new AuditLog({ append: async (events) => void audited.push(...events) }, createLogger('silent'));
  signIn = new SignIn(store, box, audit, config.sca);
});

/** A person with an authenticator (returns its secret) or, with `activationCode`, one still to enrol. */
async function person(username: string, activationCode?: string) {
  const id = randomUUID();
  const secret = newTotpSecret();
  const totpSecretEncrypted = activationCode ? null : box.encrypt(secret, TOTP_PURPOSE);
  await store.insert({ id, username, email: null, passwordHash, claims: {}, totpSecretEncrypted });
  if (activationCode) await store.setActivationCode(id, hashActivationCode(box, activationCode), 600);
  return { id, secret };
}

async function attempt(username: string, password: string, code: string, origin = ORIGIN) {
  return signIn.secondStep(await signIn.passwordStep(username, password), code, origin);
}

/** A six-digit code that is not the current one. */
const wrongCode = async (secret: string) =>
  ((Number(await generate({ secret })) + 1) % 1_000_000).toString().padStart(6, '0');

describe('lockout', () => {
  test('the failed attempt reaching the threshold locks the account; the right code is then refused', async () => {
    const { id, secret } = await person('ada');
    for (let i = 1; i <= 4; i += 1) {
      assert.deepEqual(await attempt('ada', PASSWORD, await wrongCode(secret)), { ok: false, reason: 'failed' });
    }
    assert.deepEqual(await attempt('ada', PASSWORD, await wrongCode(secret)), { ok: false, reason: 'locked' });
    assert.equal(audited.filter((e) => e.type === 'account.locked').length, 1);
    assert.ok(store.events.some((e) => e.accountId === id && e.type === 'account.locked'));

    store.calls.length = 0;
    assert.deepEqual(await attempt('ada', PASSWORD, await generate({ secret })), { ok: false, reason: 'locked' });
    assert.ok(!store.calls.includes('acceptTotpStep'), 'a refused attempt judges no real code');
    assert.equal(audited.at(-1)?.details?.judged, false);
  });

  test('a success resets the failures, so the threshold counts from zero again', async () => {
    const { id, secret } = await person('bea');
    for (let i = 0; i < 4; i += 1) await attempt('bea', PASSWORD, await wrongCode(secret));
    const signedIn = await attempt('bea', PASSWORD, await generate({ secret }));
    assert.deepEqual(signedIn, { ok: true, accountId: id, amr: ['pwd', 'otp'] });
    for (let i = 0; i < 4; i += 1) {
      assert.deepEqual(await attempt('bea', PASSWORD, await wrongCode(secret)), { ok: false, reason: 'failed' });
    }
    assert.equal(store.accounts.get(id)?.lockedUntil, null);
  });

  test('a step is judged once: posting it again is stale and reserves nothing', async () => {
    const { secret } = await person('cai');
    const step = await signIn.passwordStep('cai', PASSWORD);
    assert.deepEqual(await signIn.secondStep(step, await wrongCode(secret), ORIGIN), { ok: false, reason: 'failed' });
    store.calls.length = 0;
    assert.deepEqual(await signIn.secondStep(step, await generate({ secret }), ORIGIN), { ok: false, reason: 'stale' });
    assert.deepEqual(store.calls, ['consumeSignInStep']);
  });
});

describe('judgement', () => {
  test('the attempt is reserved before any factor is judged', async () => {
    const { secret } = await person('dov');
    await person('eli', 'ACTIVATIONCODE123456');
    for (const [username, code] of [
      ['dov', await generate({ secret })],
      ['eli', 'ACTIVATIONCODE123456'],
    ] as const) {
      store.calls.length = 0;
      assert.equal((await attempt(username, PASSWORD, code)).ok, true);
      const reserved = store.calls.indexOf('reserveAttempt');
      const judged = store.calls.findIndex((c) => ['acceptTotpStep', 'consumeActivationCode'].includes(c));
      assert.ok(reserved >= 0 && reserved < judged, `${username}: ${store.calls.join(', ')}`);
    }
  });

  test('an activation code and the password are judged together: a wrong password cannot use up the code', async () => {
    const { id } = await person('fay', 'FAYSCODEFAYSCODE2345');
    assert.deepEqual(await attempt('fay', 'not the password', 'FAYSCODEFAYSCODE2345'), { ok: false, reason: 'failed' });
    assert.ok(store.activation.has(id), 'the code survived a wrong password');
    assert.deepEqual(await attempt('fay', PASSWORD, 'WRONGCODEWRONGCODE23'), { ok: false, reason: 'failed' });
    const enrol = await attempt('fay', PASSWORD, 'faysc-odefa-yscod-e2345');
    assert.deepEqual(enrol, { ok: true, accountId: id, enrol: true });
    const succeeded = store.events.find((e) => e.accountId === id && e.type !== 'login.failed');
    assert.equal(succeeded?.type, 'activation_code.used');
    const again = await attempt('fay', PASSWORD, 'FAYSCODEFAYSCODE2345');
    assert.deepEqual(again, { ok: false, reason: 'failed' }, 'used once');
  });

  test('an unknown user gets the outcome of a wrong password, through the same store calls', async () => {
    const { secret } = await person('gus');
    await signIn.passwordStep('warm-up', PASSWORD); // settles the unknown-user dummy once
    const code = await generate({ secret });
    const seen: { outcome: unknown; calls: string[] }[] = [];
    for (const username of ['nobody', 'gus']) {
      store.calls.length = 0;
      const outcome = await attempt(username, username === 'gus' ? 'not the password' : PASSWORD, code);
      seen.push({ outcome, calls: [...store.calls] });
    }
    assert.deepEqual(seen[0], seen[1]);
    assert.deepEqual(seen[0]?.outcome, { ok: false, reason: 'failed' });
  });

  test('a throttled address is told so, audited, and no factor is judged', async () => {
    const { secret } = await person('hal');
    store.ips.set(ORIGIN.ip, { start: Date.now(), failures: config.sca.ipLimit.failures });
    assert.equal(await signIn.ipThrottled(ORIGIN.ip), true);
    store.calls.length = 0;
    assert.deepEqual(await attempt('hal', PASSWORD, await generate({ secret })), { ok: false, reason: 'throttled' });
    assert.ok(!store.calls.includes('acceptTotpStep'));
    assert.equal(audited.filter((e) => e.type === 'login.throttled').length, 2);
    assert.equal(await signIn.ipThrottled('192.0.2.41'), false, 'another address is not throttled');
  });
});

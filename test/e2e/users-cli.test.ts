import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import argon2 from 'argon2';
import * as oidc from 'openid-client';
import { PasswordHasher } from '../../src/auth/password.ts';
import { SignIn, TOTP_PURPOSE } from '../../src/auth/sign-in.ts';
import { newTotpSecret } from '../../src/auth/totp.ts';
import { AuditLog } from '../../src/audit/writer.ts';
import { PgAccountStore } from '../../src/db/account-store.ts';
import { PgAuditStore } from '../../src/db/audit-chain.ts';
import { loadConfig } from '../../src/config/env.ts';
import { createLogger } from '../../src/log/logger.ts';
import { loadServerSecrets } from '../../src/secrets/server-secrets.ts';
import { Browser, formAction } from '../support/browser.ts';
import { registerClient } from '../support/clients.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runCli, startTestKluis, type TestKluis } from '../support/kluis.ts';
import { totpCode } from '../support/people.ts';
import { RelyingParty, signIn } from '../support/rp.ts';

let t: TestDatabase;
let env: Record<string, string>;
before(async () => {
  t = await createTestDatabase();
  env = { DATABASE_URL: t.url };
});
after(async () => {
  await t.drop();
});

describe('kluis users', () => {
  test('users add reads the password from stdin, stores only an argon2id hash with the OWASP parameters', async () => {
    const added = await runCli(
      ['users', 'add', 'olivia', '--email', 'olivia@example.com', '--name', 'Olivia'],
      env,
      'olivia password 1\n',
    );
    assert.equal(added.code, 0, added.stderr);
    assert.equal(JSON.parse(added.stdout).username, 'olivia');
    const { activation_code: code, activation_code_expires_at: expires } = JSON.parse(added.stdout) as Record<
      string,
      string
    >;
    assert.match(code!, /^[a-z2-9]{4}(-[a-z2-9]{4}){4}$/, 'without --totp: an activation code, printed once');
    const days = (Date.parse(expires!) - Date.now()) / 86_400_000;
    assert.ok(days > 6.9 && days <= 7, 'expiring after ACTIVATION_CODE_TTL (7 days)');
    const { rows: stored } = await t.db.query(`select * from activation_codes where account_id = $1`, [
      JSON.parse(added.stdout).id,
    ]);
    assert.equal(stored.length, 1);
    assert.ok(
      !JSON.stringify(stored).includes(code!.replaceAll('-', '')) && !JSON.stringify(stored).includes(code!),
      'stored only as a hash',
    );
    const listed = JSON.parse((await runCli(['users', 'list'], env)).stdout) as { username: string; mfa: string }[];
    assert.equal(listed.find((u) => u.username === 'olivia')!.mfa, 'awaiting activation');
    const { rows } = await t.db.query<{ password_hash: string }>(
      `select password_hash from accounts where username = 'olivia'`,
    );
    assert.match(rows[0]!.password_hash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    assert.ok(!added.stdout.includes('olivia password 1'));
  });

  test('users add --totp prints an otpauth URI once and stores the secret encrypted', async () => {
    const added = await runCli(['users', 'add', 'peggy', '--totp'], env, 'peggy password 1');
    assert.equal(JSON.parse(added.stdout).activation_code, undefined, 'pre-enrolled: nothing to activate');
    const uri = new URL(JSON.parse(added.stdout).otpauth_uri);
    assert.equal(uri.protocol, 'otpauth:');
    const secret = uri.searchParams.get('secret')!;
    const { rows } = await t.db.query(`select totp_secret_encrypted from accounts where username = 'peggy'`);
    assert.ok(!JSON.stringify(rows).includes(secret));
  });

  test('users add --totp labels the authenticator entry with BRAND_NAME, as the sign-in pages do', async () => {
    const added = await runCli(
      ['users', 'add', 'piet', '--totp'],
      { ...env, BRAND_NAME: 'Zuidbank' },
      'piet password 1',
    );
    assert.equal(added.code, 0, added.stderr);
    const uri = new URL(JSON.parse(added.stdout).otpauth_uri);
    assert.equal(uri.searchParams.get('issuer'), 'Zuidbank');
    assert.equal(
      `${uri.host}${decodeURIComponent(uri.pathname)}`,
      'totp/Zuidbank:piet',
      'the label: brand, then username',
    );
  });

  test('bad input is refused in one line: short password, bad username, duplicate', async () => {
    for (const [args, input, pattern] of [
      [['users', 'add', 'quentin'], 'short', /at least 8 characters/],
      [['users', 'add', 'bad name'], 'long enough pw', /USERNAME must be/],
      [['users', 'add', 'olivia'], 'long enough pw', /already exists/],
      [['users', 'disable', 'nobody'], '', /no user nobody/],
    ] as const) {
      const result = await runCli([...args], env, input);
      assert.equal(result.code, 1);
      assert.match(result.stderr.trim(), pattern);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }
  });

  test('users list shows status and MFA; disable stops sign-in; after reset-mfa only its activation code enrols again', async () => {
    const web = (await registerClient(t.url, {
      redirect_uris: ['https://rp.example/cb'],
      scope: 'openid profile email',
    })) as AdapterPayload;
    const kluis: TestKluis = await startTestKluis(t.url);
    try {
      const rp = await RelyingParty.create(kluis.issuer, web);
      const added = await runCli(['users', 'add', 'rupert', '--totp'], env, 'rupert password 1');
      const secret = new URL(JSON.parse(added.stdout).otpauth_uri).searchParams.get('secret')!;
      const listed = JSON.parse((await runCli(['users', 'list'], env)).stdout) as {
        username: string;
        status: string;
        mfa: string;
      }[];
      assert.deepEqual(
        listed.find((u) => u.username === 'rupert'),
        { ...listed.find((u) => u.username === 'rupert')!, status: 'active', mfa: 'totp' },
      );

      assert.equal((await runCli(['users', 'disable', 'rupert'], env)).code, 0);
      let b = new Browser(kluis.issuer);
      let { res } = await b.follow((await rp.request()).url);
      const refused = await signIn(b, await res.text(), 'rupert', 'rupert password 1', await totpCode(secret));
      assert.equal(refused.external, undefined, 'a disabled account cannot sign in');

      await t.db.query(`update accounts set status = 'active' where username = 'rupert'`);
      const reset = await runCli(['users', 'reset-mfa', 'rupert'], env);
      assert.equal(reset.code, 0, reset.stderr);
      const activationCode = (JSON.parse(reset.stdout) as { activation_code: string }).activation_code;
      // The password alone (with the old authenticator's code, or a guess) enrols nothing: the same failure as any.
      for (const code of [await totpCode(secret, 1), '123456', 'abcd-efgh-jkmn-pqrs-tuvw']) {
        b = new Browser(kluis.issuer);
        ({ res } = await b.follow((await rp.request()).url));
        const { res: failed } = await signIn(b, await res.text(), 'rupert', 'rupert password 1', code);
        const failedPage = await failed.text();
        assert.doesNotMatch(failedPage, /totp-secret|Set up two-step verification/);
        assert.match(failedPage, /not correct/);
      }
      b = new Browser(kluis.issuer);
      ({ res } = await b.follow((await rp.request()).url));
      const loginPage = await res.text();
      const { res: mfa } = await b.submit(formAction(loginPage, 'login'), loginPage, {
        username: 'rupert',
        password: 'rupert password 1',
      });
      const mfaPage = await mfa.text();
      assert.match(mfaPage, /Enter your verification code/, 'the same code page as for anyone');
      const { res: next } = await b.submit(formAction(mfaPage, 'mfa'), mfaPage, { code: activationCode });
      assert.match(await next.text(), /Set up two-step verification/);
      const { rows } = await t.db.query(
        `select type from audit_events where account_id = (select id from accounts where username = 'rupert') and actor = 'operator' order by id`,
      );
      assert.deepEqual(
        rows.map((r) => r.type),
        ['account.created', 'account.disabled', 'mfa.reset'],
      );
    } finally {
      await kluis.stop();
    }
  });

  test("reset-mfa revokes every consent and ends every session and token of the person, an attacker's too", async () => {
    const redirect = 'https://reset.example/cb';
    const client = await registerClient(t.url, {
      redirect_uris: [redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid profile offline_access',
    });
    const kluis: TestKluis = await startTestKluis(t.url);
    try {
      const rp = await RelyingParty.create(kluis.issuer, client as AdapterPayload, redirect);
      const added = await runCli(['users', 'add', 'mallory-victim', '--totp'], env, 'victim password 1');
      const { id, otpauth_uri: uri } = JSON.parse(added.stdout) as { id: string; otpauth_uri: string };
      const secret = new URL(uri).searchParams.get('secret')!;
      // Whoever holds the authenticator (e.g. one enrolled with the password alone before activation codes) signs in.
      const browser = new Browser(kluis.issuer);
      const request = await rp.request({ scope: 'openid profile offline_access', prompt: 'consent' });
      const { res: login } = await browser.follow(request.url);
      const code = await totpCode(secret);
      const { res: consent } = await signIn(browser, await login.text(), 'mallory-victim', 'victim password 1', code);
      const consentPage = await consent.text();
      const scope = ['profile', 'offline_access'];
      const { external } = await browser.submit(formAction(consentPage, 'consent'), consentPage, { scope });
      const tokens = await rp.redeem(external!, request);

      const reset = await runCli(['users', 'reset-mfa', 'mallory-victim'], env);
      assert.equal(reset.code, 0, reset.stderr);
      assert.equal(JSON.parse(reset.stdout).consents_revoked, 1);
      await assert.rejects(
        oidc.refreshTokenGrant(rp.config, tokens.refresh_token!),
        (err: { error?: string }) => err.error === 'invalid_grant',
      );
      assert.equal((await oidc.tokenIntrospection(rp.config, tokens.access_token)).active, false);
      const { rows: left } = await t.db.query(
        `select model from oidc_models where payload->>'accountId' = $1 or payload->'session'->>'accountId' = $1`,
        [id],
      );
      assert.deepEqual(left, [], 'no session, interaction, grant or token of the person is left');
      // The browser that was signed in is asked to sign in again.
      const { url } = await rp.request({ scope: 'openid profile' });
      const { res: again, external: straightBack } = await browser.follow(url);
      assert.equal(straightBack, undefined);
      assert.match(await again.text(), /autocomplete="current-password"/);
      const { rows: ledger } = await t.db.query(
        `select channel from consent_ledger where account_id = $1 and action = 'revoked'`,
        [id],
      );
      assert.deepEqual(ledger, [{ channel: 'operator' }]);
    } finally {
      await kluis.stop();
    }
  });

  test('a hash made with older parameters is replaced once both factors passed, not by the password step', async () => {
    const old = await new PasswordHasher({ memoryKiB: 19456, iterations: 2, parallelism: 1 }).hash('sybil password 1');
    const config = loadConfig({ DATABASE_URL: t.url, ARGON2_ITERATIONS: '3', LOG_LEVEL: 'silent' });
    const secrets = await loadServerSecrets(t.db, config);
    const totp = newTotpSecret();
    await t.db.query(
      `insert into accounts (id, username, password_hash, totp_secret_encrypted) values ('sybil-id', 'sybil', $1, $2)`,
      [old, secrets.box.encrypt(totp, TOTP_PURPOSE)],
    );
    const audit = new AuditLog(new PgAuditStore(t.db), createLogger('silent'));
    const signIn = new SignIn(new PgAccountStore(t.db), secrets.box, audit, config.sca);
    const stored = async () =>
      (await t.db.query<{ password_hash: string }>(`select password_hash from accounts where id = 'sybil-id'`)).rows[0]!
        .password_hash;
    const origin = { ip: '192.0.2.30', device: 'test' };
    // The password step writes nothing, right or wrong (its cost must not depend on the password).
    const wrong = await signIn.passwordStep('sybil', 'wrong');
    const right = await signIn.passwordStep('sybil', 'sybil password 1');
    assert.ok(right.passwordOk);
    assert.equal(await stored(), old, 'not by the password step');
    assert.equal((await signIn.secondStep(wrong, await totpCode(totp), origin)).ok, false);
    assert.equal(await stored(), old, 'not after a wrong password with the right code');
    assert.equal((await signIn.secondStep(right, await totpCode(totp), origin)).ok, true);
    assert.match(await stored(), /[$,]t=3[$,]/, 'rehashed with the current parameters after the second step');
    assert.ok(await argon2.verify(await stored(), 'sybil password 1'), 'a hash of the password');
  });
});

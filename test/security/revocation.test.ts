import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { Browser, formAction } from '../support/browser.ts';
import { M2M_METADATA, registerClient, relyingParty } from '../support/clients.ts';
import type { TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { runCli, type TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { registerWebApp, type RelyingParty } from '../support/rp.ts';

// Issue 13 finding 5: a disabled person's tokens introspected as active, and a client disabled then enabled got its
// old tokens back. Disabling either one now ends what it holds.
let t: TestDatabase;
let kluis: TestKluis;
const PASSWORD = 'revocation test passphrase';
let house: KluisFixture<never, never>;

before(async () => {
  house = await withKluis();
  ({ database: t, kluis } = house);
});
after(() => house?.stop());

const webApp = (name: string) => registerWebApp(t.url, kluis.issuer, name, `https://${name}.example/cb`);

/** A fresh browser signs `username` in (password + TOTP), consents, and redeems the code. */
async function tokensFor(rp: RelyingParty, username: string, secret: string) {
  const browser = new Browser(kluis.issuer);
  const request = await rp.request({ scope: 'openid profile offline_access', prompt: 'consent' });
  const { res: login } = await browser.follow(request.url);
  const loginPage = await login.text();
  const { res: mfa } = await browser.submit(formAction(loginPage, 'login'), loginPage, {
    username,
    password: PASSWORD,
  });
  const mfaPage = await mfa.text();
  const { res: consent } = await browser.submit(formAction(mfaPage, 'mfa'), mfaPage, { code: await totpCode(secret) });
  const consentPage = await consent.text();
  const { external } = await browser.submit(formAction(consentPage, 'consent'), consentPage, {
    scope: ['profile', 'offline_access'],
  });
  assert.ok(external, `back at the app:\n${consentPage.slice(0, 800)}`);
  return rp.redeem(external, request);
}

const active = async (config: oidc.Configuration, token: string) =>
  (await oidc.tokenIntrospection(config, token)).active;
const env = () => ({ DATABASE_URL: t.url, LOG_LEVEL: 'silent' });

describe('disabling a person', () => {
  test('users disable revokes every consent and session: tokens introspect inactive, refresh and userinfo fail, ledger and audit say so', async () => {
    const person = await addPerson(t.url, 'dora', PASSWORD, { totp: true });
    const { client, rp } = await webApp('dora-app');
    const tokens = await tokensFor(rp, 'dora', person.secret!);
    assert.equal(await active(rp.config, tokens.access_token), true);
    assert.equal(await active(rp.config, tokens.refresh_token!), true);

    const disabled = await runCli(['users', 'disable', 'dora'], env());
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal(JSON.parse(disabled.stdout).consents_revoked, 1);

    assert.equal(await active(rp.config, tokens.access_token), false);
    assert.equal(await active(rp.config, tokens.refresh_token!), false);
    await assert.rejects(
      oidc.refreshTokenGrant(rp.config, tokens.refresh_token!),
      (err: { error?: string }) => err.error === 'invalid_grant',
    );
    await assert.rejects(oidc.fetchUserInfo(rp.config, tokens.access_token, oidc.skipSubjectCheck));
    const { rows: left } = await t.db.query(
      `select model from oidc_models where payload->>'accountId' = $1 or payload->'session'->>'accountId' = $1`,
      [person.id],
    );
    assert.deepEqual(left, [], 'no session, interaction, grant or token of the person is left');
    const { rows: ledger } = await t.db.query(
      'select client_id, action, channel from consent_ledger where account_id = $1 and action = $2',
      [person.id, 'revoked'],
    );
    assert.deepEqual(ledger, [{ client_id: client.client_id, action: 'revoked', channel: 'operator' }]);
    const { rows: audit } = await t.db.query<{ details: Record<string, number> }>(
      `select details from audit_events where type = 'account.disabled' and account_id = $1`,
      [person.id],
    );
    assert.equal(audit[0]?.details.consents_revoked, 1);
  });

  test("a token of an account disabled behind Kluis's back introspects inactive (the account is checked, not only the token)", async () => {
    const person = await addPerson(t.url, 'dirk', PASSWORD, { totp: true });
    const { rp } = await webApp('dirk-app');
    const tokens = await tokensFor(rp, 'dirk', person.secret!);
    await t.db.query(`update accounts set status = 'disabled' where id = $1`, [person.id]);
    assert.equal(await active(rp.config, tokens.access_token), false);
    assert.equal(await active(rp.config, tokens.refresh_token!), false);
    await t.db.query(`update accounts set status = 'active' where id = $1`, [person.id]);
    assert.equal(await active(rp.config, tokens.access_token), true, 'the same token is active while the account is');
  });
});

describe('disabling a client', () => {
  test('clients disable then enable revives none of the tokens issued before; new ones work', async () => {
    const person = await addPerson(t.url, 'cleo', PASSWORD, { totp: true });
    const { client, rp } = await webApp('cleo-app');
    const tokens = await tokensFor(rp, 'cleo', person.secret!);
    const m2m = await registerClient(t.url, M2M_METADATA);
    const m2mConfig = await relyingParty(kluis.issuer, m2m);
    const machineToken = (await oidc.clientCredentialsGrant(m2mConfig)).access_token;

    for (const id of [client.client_id, m2m.client_id]) {
      assert.equal((await runCli(['clients', 'disable', String(id)], env())).code, 0);
      assert.equal((await runCli(['clients', 'enable', String(id)], env())).code, 0);
    }
    // The enable reaches the server's client cache through NOTIFY; wait until the client authenticates again.
    for (let i = 0; i < 50; i += 1) {
      const fresh = await oidc.clientCredentialsGrant(m2mConfig).catch(() => undefined);
      if (fresh) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    assert.equal(await active(rp.config, tokens.access_token), false);
    assert.equal(await active(rp.config, tokens.refresh_token!), false);
    await assert.rejects(oidc.fetchUserInfo(rp.config, tokens.access_token, oidc.skipSubjectCheck));
    await assert.rejects(
      oidc.refreshTokenGrant(rp.config, tokens.refresh_token!),
      (err: { error?: string }) => err.error === 'invalid_grant',
    );
    assert.equal(await active(m2mConfig, machineToken), false);
    const fresh = (await oidc.clientCredentialsGrant(m2mConfig)).access_token;
    assert.equal(await active(m2mConfig, fresh), true, 'the enabled client gets new tokens');
  });
});

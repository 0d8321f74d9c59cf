import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { Browser, formAction } from '../support/browser.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { runCli } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { startLogoutReceiver } from '../support/logout-receiver.ts';
import { RelyingParty } from '../support/rp.ts';

// GDPR Art 15/20 (export) and Art 17 (erasure), checked in the database, not only on the page.
const PASSWORD = 'erasable passphrase';
const ERIK = { username: 'erik-exporting', email: 'erik.exporting@example.com', name: 'Erik Exporting' };
const RITA = { username: 'rita-reauthenticating', email: 'rita.reauth@example.com', name: 'Rita Reauthenticating' };
const DORA = { username: 'dora-deletable', email: 'dora.deletable@example.com', name: 'Dora Deletable' };

/** Kluis with the Wallet client, whose back-channel logout endpoint is a receiver of its own. */
async function startSite() {
  const receiver = await startLogoutReceiver();
  try {
    const house: KluisFixture<'wallet', never> = await withKluis({
      clients: {
        wallet: {
          client_name: 'Wallet',
          redirect_uris: ['https://wallet.example/cb'],
          grant_types: ['authorization_code', 'refresh_token'],
          scope: 'openid profile email offline_access',
          backchannel_logout_uri: receiver.uri,
        },
      },
    });
    const rp = await RelyingParty.create(house.kluis.issuer, house.clients.wallet, 'https://wallet.example/cb');
    return {
      ...house,
      receiver,
      rp,
      async stop() {
        receiver.close();
        await house.stop();
      },
    };
  } catch (err) {
    receiver.close();
    throw err;
  }
}
type Site = Awaited<ReturnType<typeof startSite>>;

/**
 * Adds the person with password, TOTP, email and name, and signs them in at Wallet in Firefox on Linux, consenting
 * to profile, email and offline access; returns the person, their browser and Wallet's tokens.
 */
async function signedIn(site: Site, who: { username: string; email: string; name: string }) {
  const person = await addPerson(site.database.url, who.username, PASSWORD, {
    totp: true,
    email: who.email,
    name: who.name,
  });
  const me = new Browser(site.kluis.issuer, {
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0',
  });
  const request = await site.rp.request({ scope: 'openid profile email offline_access', prompt: 'consent' });
  const { res } = await me.follow(request.url);
  const loginPage = await res.text();
  const { res: mfa } = await me.submit(formAction(loginPage, 'login'), loginPage, {
    username: who.username,
    password: PASSWORD,
  });
  const mfaPage = await mfa.text();
  const { res: consent } = await me.submit(formAction(mfaPage, 'mfa'), mfaPage, {
    code: await totpCode(person.secret!),
  });
  const consentPage = await consent.text();
  const { external } = await me.submit(formAction(consentPage, 'consent'), consentPage, {
    scope: ['profile', 'email', 'offline_access'],
  });
  return { person, me, tokens: await site.rp.redeem(external!, request) };
}

// The export and the refused deletion share one Kluis, each with a person of their own; the deletion gets a Kluis
// of its own, because it checks that no table anywhere holds a Firefox device and that exactly one logout went out.
let shared: Site;
before(async () => {
  shared = await startSite();
});
after(() => shared?.stop());

describe('export and erasure', () => {
  test('export is one JSON download with profile, consents, consent history and security activity', async () => {
    const { person, me } = await signedIn(shared, ERIK);
    const { res } = await me.follow('/account/export');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-disposition') ?? '', /attachment; filename="kluis-account-export.json"/);
    // biome-ignore lint/suspicious/noExplicitAny: the export document is read field by field below
    const data = (await res.json()) as Record<string, any>;
    assert.equal(data.profile.username, ERIK.username);
    assert.equal(data.profile.email, ERIK.email);
    assert.equal(data.profile.claims.name, ERIK.name);
    assert.equal(data.authentication.totp, 'enrolled');
    assert.ok(!JSON.stringify(data).includes(person.secret!), 'no TOTP secret in the export');
    assert.equal(data.consents.length, 1);
    assert.equal(data.consents[0].client_name, 'Wallet');
    assert.deepEqual(data.consents[0].scopes.sort(), ['email', 'offline_access', 'openid', 'profile']);
    assert.ok(data.consents[0].last_used_at, 'the code and tokens count as use');
    assert.equal(data.consent_history[0].action, 'granted');
    assert.deepEqual(data.consent_history[0].authorization_details, [], 'no open banking details for a sign-in');
    const signIn = data.security_activity.find((event: { event: string }) => event.event === 'login.succeeded');
    assert.equal(signIn.device, 'Firefox on Linux');
    assert.ok(signIn.ip);
  });

  test('deleting needs a fresh sign-in and the typed username', async () => {
    const { person, me } = await signedIn(shared, RITA);
    const t = shared.database;
    await t.db.query(
      `update oidc_models set payload = jsonb_set(payload, '{loginTs}', to_jsonb((extract(epoch from now()) - 200)::bigint))
       where model = 'Session' and payload->>'accountId' = $1`,
      [person.id],
    );
    const stale = await (await me.follow('/account/delete')).res.text();
    assert.match(stale, /id="reauthenticate"/);
    assert.doesNotMatch(stale, /id="confirm-delete"/);

    // Signing in again (prompt=login) makes it fresh.
    const { res } = await me.follow('/account/login?fresh=1&return=/account/delete');
    const loginPage = await res.text();
    const { res: mfa } = await me.submit(formAction(loginPage, 'login'), loginPage, {
      username: RITA.username,
      password: PASSWORD,
    });
    const mfaPage = await mfa.text();
    const { res: deletePage } = await me.submit(formAction(mfaPage, 'mfa'), mfaPage, {
      code: await totpCode(person.secret!, 1),
    });
    const page = await deletePage.text();
    assert.match(page, /id="confirm-delete"/);

    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const wrong = await me.request('/account/delete', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, confirm: 'someone-else' }),
    });
    assert.equal(wrong.status, 303);
    assert.match(
      await (await me.follow(wrong.headers.get('location')!)).res.text(),
      /did not match, so your account was not deleted/,
    );
    const { rows } = await t.db.query('select 1 from accounts where id = $1', [person.id]);
    assert.equal(rows.length, 1);
  });

  test('deletion erases every row of personal data, kills every token, tells the client, and quarantines the username', async (context) => {
    const site = await startSite();
    context.after(() => site.stop());
    const { database: t, rp, receiver } = site;
    // Freshly signed in, so the confirmation page shows without another sign-in.
    const { person, me, tokens } = await signedIn(site, DORA);
    const page = await (await me.follow('/account/delete')).res.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const res = await me.request('/account/delete', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, confirm: DORA.username }),
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/account/deleted');

    // Every token of the person fails.
    await assert.rejects(
      oidc.refreshTokenGrant(rp.config, tokens.refresh_token!),
      (err: { error?: string }) => err.error === 'invalid_grant',
    );
    assert.equal((await oidc.tokenIntrospection(rp.config, tokens.access_token)).active, false);
    await assert.rejects(oidc.fetchUserInfo(rp.config, tokens.access_token, oidc.skipSubjectCheck));
    // The session is gone too: the account area asks for a sign-in.
    assert.match(await (await me.follow('/account')).res.text(), /autocomplete="current-password"/);

    // The client heard about it over back-channel logout, with the sub it knows.
    const logoutTokens = await receiver.received();
    assert.equal(logoutTokens.length, 1);
    assert.equal(decodeJwt(logoutTokens[0]!).sub, tokens.claims()!.sub);

    // No table holds the person's username, email, name, device or addresses any more.
    const { rows: tables } = await t.db.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
    );
    for (const { table_name } of tables) {
      const { rows } = await t.db.query<{ n: number }>(
        `select count(*)::int as n from "${table_name}" r where r::text ilike any($1)`,
        [[`%${DORA.username}%`, `%${DORA.email}%`, `%${DORA.name}%`, '%Firefox%']],
      );
      assert.equal(rows[0]!.n, 0, `personal data left in ${table_name}`);
    }
    for (const table of ['accounts', 'security_events', 'recovery_codes']) {
      const column = table === 'accounts' ? 'id' : 'account_id';
      const { rows } = await t.db.query(`select 1 from ${table} where ${column} = $1`, [person.id]);
      assert.equal(rows.length, 0, table);
    }
    const { rows: models } = await t.db.query(`select model from oidc_models where payload::text like $1`, [
      `%${person.id}%`,
    ]);
    assert.deepEqual(models, [], 'no session, grant, token or interaction names the account');

    // What stays is pseudonymous: the ledger and the audit log, by random account id only.
    const { rows: ledger } = await t.db.query<{ action: string; channel: string }>(
      'select action, channel from consent_ledger where account_id = $1 order by id',
      [person.id],
    );
    assert.deepEqual(ledger.at(-1), { action: 'revoked', channel: 'account_deletion' });
    const { rows: audit } = await t.db.query(
      `select 1 from audit_events where type = 'account.deleted' and account_id = $1`,
      [person.id],
    );
    assert.equal(audit.length, 1);

    const again = await runCli(
      ['users', 'add', DORA.username.toUpperCase()],
      { DATABASE_URL: t.url },
      'a new long passphrase',
    );
    assert.equal(again.code, 1);
    assert.match(again.stderr, /belonged to a deleted account; it is available again after 20\d\d-/);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ACCOUNTLESS_SESSION_TTL } from '../../src/oidc/provider/configuration/lifetimes.ts';
import { sweepRetained } from '../../src/db/sweeper.ts';
import { Browser } from '../support/browser.ts';
import { registerClient } from '../support/clients.ts';
import type { TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import type { TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { REDIRECT, RelyingParty, signIn } from '../support/rp.ts';

// What Kluis keeps, and for how long: sessions nobody signed in to, logout requests, and the rows the sweeper ends.
let t: TestDatabase;
let kluis: TestKluis;
const RETENTION = 30 * 86400;
let house: KluisFixture<never, never>;

before(async () => {
  house = await withKluis({ env: { RATE_LIMIT_AUTHORIZE: '3' } });
  ({ database: t, kluis } = house);
});
after(() => house?.stop());

/** Seconds from now until each Session row expires, for sessions with (true) or without (false) an account. */
async function sessionLifetimes(withAccount: boolean): Promise<number[]> {
  const { rows } = await t.db.query<{ seconds: number }>(
    `select extract(epoch from expires_at - now())::int as seconds from oidc_models
     where model = 'Session' and (payload->>'accountId' is not null) = $1`,
    [withAccount],
  );
  return rows.map((row) => row.seconds);
}

describe('sessions without an account', () => {
  test('an anonymous GET /session/end stores a session of minutes, not days', async () => {
    const res = await fetch(new URL('/session/end', kluis.url));
    assert.equal(res.status, 200);
    const lifetimes = await sessionLifetimes(false);
    assert.ok(lifetimes.length >= 1, 'the confirmation page keeps its state in a session');
    assert.ok(
      lifetimes.every((seconds) => seconds <= ACCOUNTLESS_SESSION_TTL),
      `lifetimes ${lifetimes.join(', ')} s`,
    );
  });

  test('/session/end is rate limited per address with a page', async () => {
    await t.db.query(`delete from rate_limits`);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await fetch(new URL('/session/end', kluis.url))).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const refused = await fetch(new URL('/session/end', kluis.url));
    assert.ok(refused.headers.get('retry-after'));
    assert.match(await refused.text(), /Too many requests/);
    await t.db.query(`delete from rate_limits`);
  });

  test('a session someone signed in to lives its full fourteen days', async () => {
    await t.db.query(`delete from rate_limits`);
    const web = await registerClient(t.url, { redirect_uris: [REDIRECT], scope: 'openid' });
    const person = await addPerson(t.url, 'sanne', 'a long sign-in passphrase', { totp: true });
    const rp = await RelyingParty.create(kluis.issuer, web);
    const browser = new Browser(kluis.issuer);
    const { res } = await browser.follow((await rp.request({ scope: 'openid' })).url);
    await signIn(browser, await res.text(), 'sanne', 'a long sign-in passphrase', await totpCode(person.secret!));
    const lifetimes = await sessionLifetimes(true);
    assert.equal(lifetimes.length, 1);
    assert.ok(lifetimes[0]! > 13 * 86400, `${lifetimes[0]} s`);
  });
});

describe('the sweeper', () => {
  test('removes exactly the rows past their time: address counts, orphaned grant usage, quarantines, old secrets, old activity', async () => {
    const { id: accountId } = await addPerson(t.url, 'ruud', 'another long passphrase', { totp: true });
    await t.db.query(
      `insert into oidc_models (model, id, payload, expires_at) values ('Grant', 'live-grant', '{}', now() + interval '1 day')`,
    );
    await t.db.query(
      `insert into login_failures_by_ip (ip, window_start, failures) values
         ('192.0.2.1', now() - interval '2 hours', 3), ('192.0.2.2', now() - interval '1 minute', 3)`,
    );
    await t.db.query(
      `insert into grant_usage (grant_id, last_used_at) values ('live-grant', now()), ('gone-grant', now())`,
    );
    await t.db.query(
      `insert into retired_usernames (username_hash, until) values ('ended', now() - interval '1 second'), ('held', now() + interval '1 day')`,
    );
    await t.db.query(
      `insert into previous_client_secrets (client_id, secret_encrypted, expires_at) values
         ('c1', 'v1.a.b.c', now() - interval '1 second'), ('c1', 'v1.d.e.f', now() + interval '1 hour')`,
    );
    await t.db.query(
      `insert into security_events (account_id, type, ip, device, occurred_at) values
         ($1, 'login.succeeded', '192.0.2.9', 'old', now() - interval '31 days'), ($1, 'login.succeeded', '192.0.2.9', 'recent', now() - interval '29 days')`,
      [accountId],
    );

    const deleted = await sweepRetained(t.db, {
      interval: 60,
      batchSize: 1,
      securityEventRetention: RETENTION,
      loginIpWindow: 900,
    });
    assert.equal(deleted, 5);
    const left = async (sql: string, params: unknown[] = []) =>
      (await t.db.query(sql, params)).rows.map((row) => Object.values(row)[0]);
    assert.deepEqual(await left(`select ip from login_failures_by_ip where ip like '192.0.2.%'`), ['192.0.2.2']);
    assert.deepEqual(await left(`select grant_id from grant_usage where grant_id like '%-grant'`), ['live-grant']);
    assert.deepEqual(
      await left(`select username_hash from retired_usernames where username_hash in ('ended', 'held')`),
      ['held'],
    );
    assert.deepEqual(await left(`select secret_encrypted from previous_client_secrets where client_id = 'c1'`), [
      'v1.d.e.f',
    ]);
    assert.deepEqual(
      await left(`select device from security_events where account_id = $1 and device in ('old', 'recent')`, [
        accountId,
      ]),
      ['recent'],
    );
  });
});

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generate } from 'otplib';
import { Browser, formAction } from '../support/browser.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { RECOVERY_CODE, totpCode } from '../support/people.ts';

// The confirm form of a re-enrolment posted more than once at a time (a double click, two tabs: the ticket is good
// for ten minutes and for more than one post) while something else holds the account row for a moment: each post
// shows a set of recovery codes and tells the person it replaces the old ones, so only the last set may stay valid.
// (A single-statement replacement left every set valid; the store now locks the account row first.)
const PASSWORD = 'double submit passphrase';
let house: KluisFixture<never, 'dora'>;
before(async () => {
  house = await withKluis({ people: { dora: { password: PASSWORD, totp: true } } });
});
after(() => house?.stop());

test('racing confirmations of one re-enrolment leave exactly ten valid recovery codes', async () => {
  const { kluis, database: t } = house;
  const dora = house.people.dora;
  const step = () => Math.floor(Date.now() / 30_000);
  const fresh = async (key: string) => {
    await t.db.query('update accounts set totp_last_step = $2 where id = $1', [dora.id, step() - 2]);
    return generate({ secret: key, epoch: Math.floor(Date.now() / 1000) });
  };
  const browser = new Browser(kluis.issuer);
  const loginPage = await (await browser.follow('/account/security')).res.text();
  const mfaPage = await (
    await browser.submit(formAction(loginPage, 'login'), loginPage, { username: 'dora', password: PASSWORD })
  ).res.text();
  const page = await (
    await browser.submit(formAction(mfaPage, 'mfa'), mfaPage, { code: await fresh(dora.secret!) })
  ).res.text();
  const started = await (
    await browser.submit('/account/security/totp', page, { code: await fresh(dora.secret!) })
  ).res.text();
  const ticket = /name="ticket" value="([^"]+)"/.exec(started)![1]!;
  const newSecret = /id="totp-secret" class="secret">([A-Z2-7 ]+)</.exec(started)![1]!.replaceAll(' ', '');
  const code = await totpCode(newSecret);

  // The posts meet any other writer of the account row (here: a transaction holding it for a moment, as a sign-in's
  // attempt reservation or an operator's unlock does), so they queue on it.
  let posts!: Promise<string[]>;
  await t.db.transaction(async (tx) => {
    await tx.query('select 1 from accounts where id = $1 for update', [dora.id]);
    posts = Promise.all(
      Array.from({ length: 2 }, () =>
        browser.submit('/account/security/totp/confirm', started, { code, ticket }).then(({ res }) => res.text()),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
  });
  const pages = await posts;
  const shown = pages.map((p) => [...p.matchAll(RECOVERY_CODE)].map((m) => m[1]!)).filter((c) => c.length === 10);
  const { rows } = await t.db.query<{ n: number }>(
    'select count(*)::int as n from recovery_codes where account_id = $1 and used_at is null',
    [dora.id],
  );
  assert.ok(shown.length >= 2, `${shown.length} posts were answered with recovery codes`);
  assert.equal(rows[0]!.n, 10, `${shown.length} sets of codes shown, ${rows[0]!.n} codes valid`);
});

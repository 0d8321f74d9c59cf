import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { Browser, formAction } from '../support/browser.ts';
import { registerClient } from '../support/clients.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { freePort, spawnKluis, startTestKluis, type KluisProcess, type TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { REDIRECT, RelyingParty } from '../support/rp.ts';

// Issue 13 finding 3: the lockout (PSD2 RTS Art 4(3)(b)) must hold against parallel requests. Each attempt is
// reserved atomically before it is judged, and a password step is judged once.
let t: TestDatabase;
let kluis: TestKluis;
let web: AdapterPayload;
let house: KluisFixture<'web', never>;
const PASSWORD = 'parallel attempts passphrase';
const THRESHOLD = 5; // LOCKOUT_THRESHOLD's default
const PARALLEL = 14;

before(async () => {
  house = await withKluis({
    clients: { web: { redirect_uris: [REDIRECT], scope: 'openid profile email', client_name: 'Shop' } },
    env: { LOGIN_IP_LIMIT: '100000' },
  });
  ({ database: t, kluis } = house);
  web = house.clients.web;
});
after(() => house?.stop());

/**
 * The attempts whose factors were judged, from the audit log: each login.failed except those refused unjudged
 * (`judged: false`: the account locked or at its threshold), and each success, with its place (`attempt`) among
 * the attempts since the last success or lockout.
 */
async function judged(accountId: string, stepUp = false, db = t.db) {
  const { rows } = await db.query<{ type: string; attempt: number | null }>(
    `select type, (details->>'attempt')::int as attempt from audit_events
     where account_id = $1 and type in ('login.failed', 'login.succeeded')
       and coalesce(details->>'judged', 'true') = 'true'
       and coalesce(details->>'step_up', 'false') = $2
     order by id`,
    [accountId, String(stepUp)],
  );
  return {
    failures: rows.filter((row) => row.type === 'login.failed'),
    successes: rows.filter((row) => row.type === 'login.succeeded'),
  };
}

/**
 * What the reservation guarantees however the requests interleave: every judged attempt was among the first
 * THRESHOLD since the last success (so a success never comes after THRESHOLD failures), no place was judged twice
 * in one count, and without a success no more than THRESHOLD were judged at all. A success resets the count: an
 * attempt reserved after it starts a new one.
 */
function assertLockoutHeld(seen: Awaited<ReturnType<typeof judged>>, successes: number) {
  const all = [...seen.failures, ...seen.successes];
  const places = all.map((row) => row.attempt).join(',');
  const summary = `${seen.failures.length} failures and ${successes} successes judged at places ${places}`;
  assert.ok(
    all.every((row) => row.attempt !== null && row.attempt >= 1 && row.attempt <= THRESHOLD),
    summary,
  );
  for (let place = 1; place <= THRESHOLD; place += 1) {
    assert.ok(
      all.filter((row) => row.attempt === place).length <= successes + 1,
      `place ${place} judged twice in one count: ${summary}`,
    );
  }
  if (successes === 0) assert.ok(seen.failures.length <= THRESHOLD, summary);
}

/**
 * `count` browsers that each passed the password step for `username` on `bases[i % bases.length]`, at the code
 * page.
 */
async function atCodePage(issuer: string, bases: string[], username: string, count: number, client = web) {
  const rp = await RelyingParty.create(issuer, client);
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const browser = new Browser(bases[i % bases.length]!, {}, issuer);
      const { res } = await browser.follow((await rp.request()).url);
      const page = await res.text();
      const { res: mfa } = await browser.submit(formAction(page, 'login'), page, { username, password: PASSWORD });
      return { browser, page: await mfa.text() };
    }),
  );
}

/** Posts every browser's code page at once, the right code from one of them (the middle one); returns the outcomes. */
async function burst(pending: { browser: Browser; page: string }[], rightCode: string) {
  const middle = Math.floor(pending.length / 2);
  return Promise.all(
    pending.map(async ({ browser, page }, i) => {
      const { res } = await browser.submit(formAction(page, 'mfa'), page, {
        code: i === middle ? rightCode : String(100000 + i),
      });
      return /action="\/interaction\/[^"]+\/consent"/.test(await res.text()); // signed in: the consent screen
    }),
  );
}

describe('parallel second steps against one account', () => {
  test('20 parallel wrong second steps: exactly LOCKOUT_THRESHOLD judged, then the account is locked', async () => {
    const ned = await addPerson(t.url, 'ned', PASSWORD, { totp: true });
    const pending = await atCodePage(kluis.issuer, [kluis.issuer], 'ned', 20);
    await burst(pending, '999999');
    const seen = await judged(ned.id);
    assert.equal(seen.failures.length, THRESHOLD);
    assert.deepEqual(seen.failures.map((row) => row.attempt).sort(), [1, 2, 3, 4, 5]);
    const { rows } = await t.db.query<{ locked_until: Date | null }>(
      'select locked_until from accounts where id = $1',
      [ned.id],
    );
    assert.ok(rows[0]!.locked_until! > new Date());
    const late = await atCodePage(kluis.issuer, [kluis.issuer], 'ned', 1);
    assert.deepEqual(await burst(late, await totpCode(ned.secret!)), [false], 'the right code after the burst: locked');
  });

  test(`${PARALLEL} parallel second steps with one right code: none judged past LOCKOUT_THRESHOLD, no success after it`, async () => {
    const pia = await addPerson(t.url, 'pia', PASSWORD, { totp: true });
    const pending = await atCodePage(kluis.issuer, [kluis.issuer], 'pia', PARALLEL);
    const outcomes = await burst(pending, await totpCode(pia.secret!));
    const seen = await judged(pia.id);
    assert.equal(seen.successes.length, outcomes.filter(Boolean).length);
    assertLockoutHeld(seen, seen.successes.length);
  });

  test('20 parallel posts of one password step are judged once', async () => {
    const rob = await addPerson(t.url, 'rob', PASSWORD, { totp: true });
    const { browser, page } = (await atCodePage(kluis.issuer, [kluis.issuer], 'rob', 1))[0]!;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => browser.submit(formAction(page, 'mfa'), page, { code: String(200000 + i) })),
    );
    const seen = await judged(rob.id);
    assert.deepEqual([seen.failures.length, seen.successes.length], [1, 0]);
    const { rows } = await t.db.query<{ failed_attempts: number }>(
      'select failed_attempts from accounts where id = $1',
      [rob.id],
    );
    assert.equal(rows[0]!.failed_attempts, 1);
  });

  test(`${PARALLEL} parallel second steps spread over two Kluis processes on one database: the same limit`, async () => {
    const shared = await createTestDatabase();
    const client = await registerClient(shared.url, { redirect_uris: [REDIRECT], scope: 'openid profile email' });
    const sue = await addPerson(shared.url, 'sue', PASSWORD, { totp: true });
    const ted = await addPerson(shared.url, 'ted', PASSWORD, { totp: true });
    const ports = [await freePort(), await freePort()];
    // One issuer, two processes: each browser talks to one of them, half to each.
    const issuer = `http://localhost:${ports[0]}`;
    const processes: KluisProcess[] = [];
    try {
      for (const port of ports)
        processes.push(await spawnKluis({ DATABASE_URL: shared.url, ISSUER: issuer, PORT: String(port) }));
      const bases = ports.map((port) => `http://localhost:${port}`);
      const pending = await atCodePage(issuer, bases, 'sue', PARALLEL, client);
      const outcomes = await burst(pending, await totpCode(sue.secret!));
      const seen = await judged(sue.id, false, shared.db);
      assert.equal(seen.successes.length, outcomes.filter(Boolean).length);
      assertLockoutHeld(seen, seen.successes.length);

      await burst(await atCodePage(issuer, bases, 'ted', 20, client), '999999');
      assert.equal(
        (await judged(ted.id, false, shared.db)).failures.length,
        THRESHOLD,
        'all wrong: exactly THRESHOLD judged',
      );
    } finally {
      for (const p of processes) p.child.kill('SIGKILL');
      await Promise.all(processes.map((p) => p.exited));
      await shared.drop();
    }
  });
});

describe('parallel step-up attempts in the account area', () => {
  /** Signs `username` in to the account area; returns the browser at its security page. */
  async function signedIntoAccount(username: string, secret: string) {
    const browser = new Browser(kluis.issuer);
    const { res } = await browser.follow('/account/security');
    const loginPage = await res.text();
    const { res: mfa } = await browser.submit(formAction(loginPage, 'login'), loginPage, {
      username,
      password: PASSWORD,
    });
    const mfaPage = await mfa.text();
    const { res: landed } = await browser.submit(formAction(mfaPage, 'mfa'), mfaPage, { code: await totpCode(secret) });
    return { browser, page: await landed.text() };
  }

  test('40 wrong and 1 right code at once to POST /account/security/totp: none judged past LOCKOUT_THRESHOLD, no ticket after it', async () => {
    const quinn = await addPerson(t.url, 'quinn', PASSWORD, { totp: true });
    const { browser, page } = await signedIntoAccount('quinn', quinn.secret!);
    assert.match(page, /<h1>Security<\/h1>/);
    const right = await totpCode(quinn.secret!, 1); // the sign-in used the current step
    const answers = await Promise.all(
      Array.from({ length: 41 }, async (_, i) => {
        const { res } = await browser.submit('/account/security/totp', page, {
          code: i === 20 ? right : String(300000 + i),
        });
        return /name="ticket"/.test(await res.text());
      }),
    );
    const tickets = answers.filter(Boolean).length;
    assert.ok(tickets <= 1);
    assertLockoutHeld(await judged(quinn.id, true), tickets);
  });

  test('account-area POSTs are counted in the RATE_LIMIT_LOGIN bucket of the address', async () => {
    const database = await createTestDatabase();
    const strict = await startTestKluis(database.url, { RATE_LIMIT_LOGIN: '4' });
    try {
      const rae = await addPerson(database.url, 'rae', PASSWORD, { totp: true });
      const browser = new Browser(strict.issuer);
      const { res } = await browser.follow('/account/security');
      const loginPage = await res.text();
      const { res: mfa } = await browser.submit(formAction(loginPage, 'login'), loginPage, {
        username: 'rae',
        password: PASSWORD,
      });
      const mfaPage = await mfa.text();
      const { res: landed } = await browser.submit(formAction(mfaPage, 'mfa'), mfaPage, {
        code: await totpCode(rae.secret!),
      });
      const page = await landed.text();
      // Two sign-in POSTs so far; two more fit in the window, the next is refused.
      const statuses = [];
      for (let i = 0; i < 3; i += 1)
        statuses.push(
          (
            await browser.request('/account/security/recovery-codes', {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: new URLSearchParams({ csrf: /name="csrf" value="([^"]+)"/.exec(page)![1]!, code: '000000' }),
            })
          ).status,
        );
      assert.deepEqual(statuses, [303, 303, 429]);
    } finally {
      await strict.stop();
      await database.drop();
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generate } from 'otplib';
import type { AdapterPayload } from 'oidc-provider';
import { Browser, formAction } from '../support/browser.ts';
import { registerClient } from '../support/clients.ts';
import type { TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import type { TestKluis } from '../support/kluis.ts';
import { addPerson, RECOVERY_CODE, totpCode } from '../support/people.ts';
import { RelyingParty } from '../support/rp.ts';

// Security activity and second-factor management in the account area; what a withdrawn consent means for JWTs.
let t: TestDatabase;
let kluis: TestKluis;
const PASSWORD = 'security page passphrase';
const API = 'https://api.bank.example';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';
let house: KluisFixture<never, never>;

before(async () => {
  house = await withKluis({
    resourceServers: [
      { identifier: API, scope: 'accounts:read', accessTokenFormat: 'jwt', signingAlg: 'ES256', accessTokenTtl: 600 },
    ],
  });
  ({ database: t, kluis } = house);
});
after(() => house?.stop());

interface Person {
  id: string;
  username: string;
  secret: string;
}

/** Each test manages the second factor of a person of its own, enrolled with an authenticator app. */
async function newPerson(username: string): Promise<Person> {
  const { id, secret } = await addPerson(t.url, username, PASSWORD, { totp: true });
  return { id, username, secret: secret! };
}

const step = () => Math.floor(Date.now() / 30_000);
/** A code for `key` that has not been used yet: the replay guard remembers the last accepted step. */
async function freshCode(key: string, username: string) {
  await t.db.query('update accounts set totp_last_step = $2 where username = $1', [username, step() - 2]);
  return generate({ secret: key, epoch: Math.floor(Date.now() / 1000) });
}

/** Signs `who` in to the account area in a new browser (TOTP from `key`, or `code`) and returns it at `path`. */
async function signedIn(path: string, who: Person, { key = who.secret, code }: { key?: string; code?: string } = {}) {
  const { username } = who;
  const browser = new Browser(kluis.issuer, { 'user-agent': FIREFOX });
  const { res } = await browser.follow(path);
  const loginPage = await res.text();
  const { res: mfa } = await browser.submit(formAction(loginPage, 'login'), loginPage, {
    username,
    password: PASSWORD,
  });
  const mfaPage = await mfa.text();
  const { res: landed } = await browser.submit(formAction(mfaPage, 'mfa'), mfaPage, {
    code: code ?? (await freshCode(key, username)),
  });
  return { browser, page: await landed.text(), status: landed.status };
}

const post = (browser: Browser, path: string, page: string, fields: Record<string, string>) =>
  browser.submit(path, page, fields).then(async ({ res }) => ({ status: res.status, page: await res.text() }));

describe('security activity and MFA management', () => {
  test('recent sign-ins show the time, a coarse device and the address; failures and lockout-relevant events too', async () => {
    const { page } = await signedIn('/account/security', await newPerson('sam-activity'));
    assert.match(
      page,
      /data-type="login.succeeded">[^<]*Signed in · Firefox on Linux · (127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)/,
    );
  });

  test('new recovery codes need a fresh second factor; a wrong code changes nothing and counts as a failure', async () => {
    const sam = await newPerson('sam-codes');
    const { browser, page } = await signedIn('/account/security', sam);
    const wrong = await post(browser, '/account/security/recovery-codes', page, { code: '000000' });
    assert.match(wrong.page, /That code was not correct, so nothing changed/);
    assert.match(wrong.page, /data-type="login.failed"/);

    const right = await post(browser, '/account/security/recovery-codes', wrong.page, {
      code: await freshCode(sam.secret, sam.username),
    });
    const codes = [...right.page.matchAll(RECOVERY_CODE)].map((m) => m[1]!);
    assert.equal(codes.length, 10);
    // A new code works in place of the TOTP code at the next sign-in, once.
    const viaRecovery = await signedIn('/account', sam, { code: codes[0] });
    assert.match(viaRecovery.page, /Your account/);
    const replayed = await signedIn('/account', sam, { code: codes[0] });
    assert.doesNotMatch(replayed.page, /id="username">sam-codes</, 'a recovery code works once');
    const { rows } = await t.db.query<{ type: string }>(
      `select type from security_events where account_id = $1 and type in ('mfa.enrolled', 'recovery_codes.regenerated')`,
      [sam.id],
    );
    assert.deepEqual(
      rows.map((row) => row.type),
      ['recovery_codes.regenerated'],
    );
  });

  test('re-enrolling the authenticator: fresh factor, new secret proven by a code, then only the new app works', async () => {
    const sam = await newPerson('sam-reenrol');
    const { secret } = sam;
    const { browser, page } = await signedIn('/account/security', sam);
    const started = await post(browser, '/account/security/totp', page, {
      code: await freshCode(secret, sam.username),
    });
    assert.match(started.page, /<img src="data:image\/png;base64,/);
    const newSecret = /id="totp-secret" class="secret">([A-Z2-7 ]+)</.exec(started.page)![1]!.replaceAll(' ', '');
    assert.notEqual(newSecret, secret);

    const bad = await post(browser, '/account/security/totp/confirm', started.page, {
      code: '000000',
      ticket: /name="ticket" value="([^"]+)"/.exec(started.page)![1]!,
    });
    assert.equal(bad.status, 400);
    assert.match(bad.page, /did not match/);
    const done = await post(browser, '/account/security/totp/confirm', bad.page, {
      code: await totpCode(newSecret),
      ticket: /name="ticket" value="([^"]+)"/.exec(bad.page)![1]!,
    });
    assert.match(done.page, /Save your recovery codes/);

    const oldApp = await signedIn('/account', sam, { key: secret });
    assert.doesNotMatch(oldApp.page, /id="username">sam-reenrol</, 'the old authenticator no longer signs in');
    const newApp = await signedIn('/account', sam, { key: newSecret });
    assert.match(newApp.page, /id="username">sam-reenrol</);
    // New recovery codes come with the re-enrolment, recorded as the enrolment alone (the recovery-code test
    // checks that a regeneration is recorded).
    const { rows } = await t.db.query<{ type: string }>(
      `select type from security_events where account_id = $1 and type in ('mfa.enrolled', 'recovery_codes.regenerated')`,
      [sam.id],
    );
    assert.deepEqual(
      rows.map((row) => row.type),
      ['mfa.enrolled'],
    );
  });

  test('a re-enrolment ticket from one account is useless in another', async () => {
    const sam = await newPerson('sam-ticket');
    const tomPerson = await newPerson('tom');
    // Tom starts a re-enrolment and gets a genuine ticket with a new secret.
    const tom = await signedIn('/account/security', tomPerson);
    const tomStarted = await post(tom.browser, '/account/security/totp', tom.page, {
      code: await freshCode(tomPerson.secret, 'tom'),
    });
    const tomTicket = /name="ticket" value="([^"]+)"/.exec(tomStarted.page)![1]!;
    const tomNewSecret = /id="totp-secret" class="secret">([A-Z2-7 ]+)</.exec(tomStarted.page)![1]!.replaceAll(' ', '');
    // Sam submits Tom's ticket with a valid code for its secret: refused, nothing changes on either account.
    const { browser, page } = await signedIn('/account/security', sam);
    const forged = await post(browser, '/account/security/totp/confirm', page, {
      code: await totpCode(tomNewSecret),
      ticket: tomTicket,
    });
    assert.match(forged.page, /That set-up has expired/);
    assert.match(
      (await signedIn('/account', sam)).page,
      /id="username">sam-ticket</,
      "sam's authenticator is unchanged",
    );
  });
});

describe('withdrawing a consent behind JWT access tokens', () => {
  test('the page says when access through already-issued JWT access tokens ends; JWTs live at most JWT_ACCESS_TOKEN_TTL', async () => {
    const client = await registerClient(t.url, {
      client_name: 'Aggregator',
      redirect_uris: ['https://agg.example/cb'],
      scope: 'openid accounts:read',
    });
    const rp = await RelyingParty.create(kluis.issuer, client as AdapterPayload, 'https://agg.example/cb');
    const { browser } = await signedIn('/account', await newPerson('sam-consent'));
    const request = await rp.request({ scope: 'openid accounts:read', resource: API });
    const { res } = await browser.follow(request.url);
    const consentPage = await res.text();
    const { external } = await browser.submit(formAction(consentPage, 'consent'), consentPage, {
      scope: ['accounts:read'],
    });
    const tokens = await rp.redeem(external!, request);
    const jwt = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()) as {
      exp: number;
      iat: number;
    };
    assert.equal(jwt.exp - jwt.iat, 300, 'the API asked for 600 s; JWT_ACCESS_TOKEN_TTL caps it at 300');
    // Stored before the token was answered: the account area can tell at once until when the JWT works.
    const { rows: usage } = await t.db.query(
      'select 1 from grant_usage where abs(extract(epoch from jwt_access_until) - $1) < 2',
      [jwt.exp],
    );
    assert.equal(usage.length, 1, 'the grant records until when its JWT access tokens live');

    const list = await (await browser.follow('/account/consents')).res.text();
    const revokePath = /data-client="[^"]+"[\s\S]*?href="(\/account\/consents\/[^"]+\/revoke)"/.exec(
      list.slice(list.indexOf('Aggregator') - 400),
    )![1]!;
    const confirm = await (await browser.follow(revokePath)).res.text();
    const { res: done } = await browser.submit(revokePath, confirm, {});
    const message = /id="flash">([^<]+)</.exec(await done.text())![1]!;
    // Shown to the minute, rounded up so that "at the latest" stays true, in the person's zone (UTC here).
    // The grant's recorded end may be a moment past this token's exp (the latest JWT issued under it): either minute.
    const clock = (ms: number) => {
      const at = new Date(Math.ceil(ms / 60_000) * 60_000);
      return `${String(at.getUTCHours() % 12 || 12).padStart(2, '0')}:${String(at.getUTCMinutes()).padStart(2, '0')}`;
    };
    const clocks = `(${clock(jwt.exp * 1000)}|${clock(jwt.exp * 1000 + 60_000)})`;
    assert.match(message, new RegExp(`cannot be recalled and stop working at [^<]*${clocks}[^<]* UTC at the latest`));
  });
});

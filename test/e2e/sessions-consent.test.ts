import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { autoSubmit, Browser, formAction } from '../support/browser.ts';
import type { TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import type { TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { RelyingParty, signIn } from '../support/rp.ts';

// SSO sessions, step-up (prompt, max_age, acr_values, SCA age) and the consent decision.
let t: TestDatabase;
let kluis: TestKluis;
let rp: RelyingParty;
const PASSWORD = 'sessions and consent';
let house: KluisFixture<'web' | 'apis', never>;
/** An API the operator gave a title and description, and one registered without (resources add). */
const SAVINGS_API = 'https://api.example/savings';
const RAW_API = 'https://api.example/raw';
/** An API with a scope of the same name as the savings API's. */
const LEDGER_API = 'https://api.example/ledger';

before(async () => {
  house = await withKluis({
    resourceServers: [
      { identifier: SAVINGS_API, scope: 'savings', title: 'Savings API', description: 'See your savings balances' },
      { identifier: RAW_API, scope: 'raw:read raw:write' },
      { identifier: LEDGER_API, scope: 'savings', title: 'Ledger API' },
    ],
    clients: {
      apis: {
        redirect_uris: ['https://rp.example/cb'],
        scope: 'openid savings raw:read raw:write',
        client_name: 'Budget',
      },
      web: {
        redirect_uris: ['https://rp.example/cb'],
        scope: 'openid profile email offline_access',
        client_name: 'Ledger',
      },
    },
  });
  ({ database: t, kluis } = house);
  rp = await RelyingParty.create(kluis.issuer, house.clients.web as AdapterPayload);
});
after(() => house?.stop());

/** Goes to the authorization endpoint with `browser`; reports whether a login page, a consent page or the client came back. */
async function visit(browser: Browser, params: Record<string, string> = {}) {
  const request = await rp.request(params);
  const { res, external } = await browser.follow(request.url);
  const page = external ? '' : await res.text();
  const kind = external
    ? 'client'
    : page.includes('current-password')
      ? 'login'
      : page.includes('/consent"')
        ? 'consent'
        : 'other';
  return { request, page, external, kind };
}

/** A person of this test's own, so no two tests compete for one TOTP time step. */
async function newPerson(username: string) {
  const added = await addPerson(t.url, username, PASSWORD, { totp: true, email: `${username}@example.com` });
  return { id: added.id, username, secret: added.secret! };
}

/** A browser with a fresh SSO session of a new person who has consented to the client. */
async function signedIn(username: string): Promise<Browser> {
  const person = await newPerson(username);
  const b = new Browser(kluis.issuer);
  const { page } = await visit(b);
  const { res, external } = await signIn(b, page, person.username, PASSWORD, await totpCode(person.secret));
  if (!external) {
    const consentPage = await res.text();
    const done = await b.submit(formAction(consentPage, 'consent'), consentPage, { scope: ['profile', 'email'] });
    assert.ok(done.external?.searchParams.get('code'), 'signed in');
  }
  return b;
}

describe('consent', () => {
  test('deny returns access_denied with iss to the client', async () => {
    const person = await newPerson('heidi');
    const b = new Browser(kluis.issuer);
    const { page } = await visit(b);
    const { res } = await signIn(b, page, person.username, PASSWORD, await totpCode(person.secret));
    const consentPage = await res.text();
    assert.match(consentPage, /Ledger wants to access your account/);
    const { external } = await b.submit(formAction(consentPage, 'cancel'), consentPage, {});
    assert.equal(external?.searchParams.get('error'), 'access_denied');
    assert.equal(external?.searchParams.get('iss'), kluis.issuer);
  });

  test('an unticked optional scope is not granted; the next request skips the screen; prompt=consent shows it again', async () => {
    const person = await newPerson('ivan');
    const b = new Browser(kluis.issuer);
    const { page, request } = await visit(b);
    const { res } = await signIn(b, page, person.username, PASSWORD, await totpCode(person.secret));
    const consentPage = await res.text();
    const { external } = await b.submit(formAction(consentPage, 'consent'), consentPage, { scope: ['email'] });
    const tokens = await rp.redeem(external!, request);
    const scopes = (tokens.scope ?? '').split(' ');
    assert.ok(scopes.includes('email'));
    assert.ok(!scopes.includes('profile'), `profile was unticked: ${tokens.scope}`);

    assert.equal((await visit(b)).kind, 'client', 'consent remembered, SSO session reused');
    assert.equal((await visit(b, { prompt: 'consent' })).kind, 'consent');
    const { rows } = await t.db.query(
      `select type from audit_events where type = 'consent.granted' and account_id = $1`,
      [person.id],
    );
    assert.equal(rows.length, 1);
  });

  test("an API's scope is shown by the title and description its operator gave, on the consent page and in the account", async () => {
    const { b, consentPage } = await atApiConsent('ilse', 'openid savings', [SAVINGS_API]);
    assert.match(consentPage, /<label class="inline" for="scope-\d">Savings API<\/label>/);
    assert.match(consentPage, /See your savings balances/);
    assert.doesNotMatch(consentPage, /permission|api\.example/);
    const { external } = await b.submit(formAction(consentPage, 'consent'), consentPage, { scope: ['savings'] });
    assert.ok(external?.searchParams.get('code'));

    const account = await (await b.follow('/account/consents')).res.text();
    assert.match(account, /<li>Savings API<\/li>/);
    assert.doesNotMatch(account, /api\.example/);
  });

  test('a scope name two APIs share names both on the consent page, and each by its own title in the account', async () => {
    const { b, consentPage } = await atApiConsent('isolde', 'openid savings', [SAVINGS_API, LEDGER_API]);
    assert.match(
      consentPage,
      /for="scope-\d">(Savings API and Ledger API|Ledger API and Savings API): savings<\/label>/,
    );
    await b.submit(formAction(consentPage, 'consent'), consentPage, { scope: ['savings'] });

    const account = await (await b.follow('/account/consents')).res.text();
    assert.match(account, /<li>Savings API<\/li>/);
    assert.match(account, /<li>Ledger API<\/li>/);
  });

  test('an API registered without a title is shown by its scope names and, in the account, its identifier', async () => {
    const { b, consentPage } = await atApiConsent('ines', 'openid raw:read raw:write', [RAW_API]);
    assert.match(consentPage, /Use the “raw:read” permission/);
    assert.match(consentPage, /Use the “raw:write” permission/);
    await b.submit(formAction(consentPage, 'consent'), consentPage, { scope: ['raw:read'] });

    const account = await (await b.follow('/account/consents')).res.text();
    assert.match(account, /<li>Use the “raw:read” permission at https:\/\/api\.example\/raw<\/li>/);
    assert.doesNotMatch(account, /raw:write/);
  });
});

/** A person of their own on the consent page of the API app's request for `scope` at `resources` (RFC 8707). */
async function atApiConsent(username: string, scope: string, [resource, ...more]: string[]) {
  const person = await newPerson(username);
  const b = new Browser(kluis.issuer);
  const apps = await RelyingParty.create(kluis.issuer, house.clients.apis as AdapterPayload);
  const request = await apps.request({ scope, resource: resource! });
  for (const other of more) request.url.searchParams.append('resource', other);
  const { res: login } = await b.follow(request.url);
  const { res } = await signIn(b, await login.text(), person.username, PASSWORD, await totpCode(person.secret));
  return { b, consentPage: await res.text() };
}

/** A person of their own on the consent page of `rp`'s request, with a login_hint naming them. */
async function atConsent(username: string) {
  const person = await newPerson(username);
  const b = new Browser(kluis.issuer);
  const { page, request } = await visit(b, { login_hint: username });
  const { res } = await signIn(b, page, person.username, PASSWORD, await totpCode(person.secret));
  const consentPage = await res.text();
  assert.match(consentPage, new RegExp(`Signed in as ${username}\\.`));
  return { person, b, request, consentPage };
}

describe('"Not you?" on the consent page', () => {
  test('another person signs in in the same request: the first session ends and the app gets a code for the second', async () => {
    const { person: first, b, request, consentPage } = await atConsent('jorge');
    const other = await newPerson('julia');
    const { res: switched } = await b.submit(formAction(consentPage, 'switch'), consentPage, {});
    const loginPage = await switched.text();
    assert.match(loginPage, /current-password/);
    assert.doesNotMatch(loginPage, /value="jorge"/, "the app's login_hint named the person who is not signing in");

    const { res: logout } = await signIn(b, loginPage, other.username, PASSWORD, await totpCode(other.secret));
    const { res } = await autoSubmit(b, await logout.text());
    const second = await res.text();
    assert.match(second, /Signed in as julia\./);
    const { external } = await b.submit(formAction(second, 'consent'), second, { scope: ['email'] });
    const tokens = await rp.redeem(external!, request);
    const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
    assert.equal(userinfo.email, 'julia@example.com');

    const events = await t.db.query<{ type: string; account_id: string }>(
      `select type, account_id from audit_events where type like 'consent.%' and account_id = any($1) order by id`,
      [[first.id, other.id]],
    );
    assert.deepEqual(
      events.rows.map((row) => [row.type, row.account_id]),
      [
        ['consent.switched', first.id],
        ['consent.granted', other.id],
      ],
    );
    const account = await (await b.follow('/account')).res.text();
    assert.match(account, /julia/);
    assert.doesNotMatch(account, /jorge/);
  });

  test('after "Not you?" the consent form of the person signed in before is refused and grants nothing', async () => {
    const { person, b, consentPage } = await atConsent('kees');
    await b.submit(formAction(consentPage, 'switch'), consentPage, {});
    const { res } = await b.submit(formAction(consentPage, 'consent'), consentPage, { scope: ['email'] });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /not part of this sign-in/);
    const grants = await t.db.query(`select 1 from consent_ledger where account_id = $1`, [person.id]);
    assert.equal(grants.rowCount, 0);
  });

  test('the same person signing in again after "Not you?" goes on to their own consent page', async () => {
    const { person, b, request, consentPage } = await atConsent('lotte');
    const { res: switched } = await b.submit(formAction(consentPage, 'switch'), consentPage, {});
    const { res } = await signIn(b, await switched.text(), person.username, PASSWORD, await totpCode(person.secret, 1));
    const again = await res.text();
    assert.match(again, /Signed in as lotte\./);
    const { external } = await b.submit(formAction(again, 'consent'), again, { scope: ['email'] });
    assert.ok(external?.searchParams.get('code'));
    await rp.redeem(external!, request);
  });

  test("once the second person signed in, the interaction shows no page again: it leads on to the first session's end", async () => {
    const { person: first, b, consentPage } = await atConsent('nadia');
    const other = await newPerson('nora');
    const { res: switched } = await b.submit(formAction(consentPage, 'switch'), consentPage, {});
    const { res: logout } = await signIn(
      b,
      await switched.text(),
      other.username,
      PASSWORD,
      await totpCode(other.secret),
    );
    assert.match(await logout.text(), /end\/confirm/);
    // The browser skips oidc-provider's auto-submitting form and goes back (JavaScript off, then Back).
    const uid = /\/interaction\/([^/]+)\/consent/.exec(consentPage)![1];
    const back = await (await b.follow(`/interaction/${uid}`)).res.text();
    assert.doesNotMatch(back, /Signed in as/);
    assert.match(back, /end\/confirm/, 'the way on is the end of the first session, again');
    const { res: stale } = await b.submit(formAction(consentPage, 'consent'), consentPage, { scope: ['email'] });
    assert.notEqual(stale.status, 303);
    const ledger = await t.db.query('select 1 from consent_ledger where account_id = $1', [first.id]);
    assert.equal(ledger.rowCount, 0, 'nothing granted to the person signed in before');
  });

  test('of 20 parallel Allow posts on one consent page one is judged: one grant, one ledger entry, one code', async () => {
    const { person, b, consentPage } = await atConsent('olga');
    const action = formAction(consentPage, 'consent');
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => b.submit(action, consentPage, { scope: ['email'] })),
    );
    const codes = answers.filter((answer) => answer.external?.searchParams.get('code'));
    assert.equal(codes.length >= 1, true, 'the person reaches the app');
    const ledger = await t.db.query('select 1 from consent_ledger where account_id = $1', [person.id]);
    assert.equal(ledger.rowCount, 1);
    const granted = await t.db.query(`select 1 from audit_events where type = 'consent.granted' and account_id = $1`, [
      person.id,
    ]);
    assert.equal(granted.rowCount, 1);
  });

  test('an app that names the person with id_token_hint gets no "Not you?", and a switch posted anyway is refused', async () => {
    const person = await newPerson('pia');
    const b = new Browser(kluis.issuer);
    const { page, request } = await visit(b);
    const { res } = await signIn(b, page, person.username, PASSWORD, await totpCode(person.secret));
    const first = await res.text();
    const { external } = await b.submit(formAction(first, 'consent'), first, { scope: ['email'] });
    const tokens = await rp.redeem(external!, request);

    const { page: again } = await visit(b, { prompt: 'consent', id_token_hint: tokens.id_token! });
    assert.match(again, /Signed in as pia\./);
    assert.doesNotMatch(again, /switch-account|Not you\?/);
    const uid = /\/interaction\/([^/]+)\/consent/.exec(again)![1];
    const { res: refused } = await b.submit(`/interaction/${uid}/switch`, again, {});
    assert.equal(refused.status, 400);
  });

  test('"Not you?" is refused without the form\'s CSRF token and outside the consent page', async () => {
    const { b, consentPage } = await atConsent('maud');
    const { res: forged } = await b.submit(formAction(consentPage, 'switch'), consentPage, { csrf: 'forged' });
    assert.equal(forged.status, 403);
    const stillConsent = await (
      await b.follow(`/interaction/${/\/interaction\/([^/]+)\/consent/.exec(consentPage)![1]}`)
    ).res.text();
    assert.match(stillConsent, /Signed in as maud\./);

    const fresh = new Browser(kluis.issuer);
    const { page: loginPage } = await visit(fresh);
    const uid = /\/interaction\/([^/]+)\/login/.exec(loginPage)![1];
    const { res } = await fresh.submit(`/interaction/${uid}/switch`, loginPage, {});
    assert.equal(res.status, 400);
  });
});

describe('sessions and step-up', () => {
  test('with id_token_hint naming one person, another signing in ends the request with login_required; the person named goes on', async () => {
    const person = await newPerson('rosa');
    const other = await newPerson('ruud');
    const b = new Browser(kluis.issuer);
    const { page, request } = await visit(b);
    const { res } = await signIn(b, page, person.username, PASSWORD, await totpCode(person.secret));
    const consentPage = await res.text();
    const { external } = await b.submit(formAction(consentPage, 'consent'), consentPage, { scope: ['email'] });
    const hint = (await rp.redeem(external!, request)).id_token!;

    const { page: login } = await visit(b, { prompt: 'login', id_token_hint: hint });
    const { external: refused } = await signIn(b, login, other.username, PASSWORD, await totpCode(other.secret));
    assert.equal(refused?.searchParams.get('error'), 'login_required');
    const audit = await t.db.query(`select 1 from audit_events where type = 'consent.granted' and account_id = $1`, [
      other.id,
    ]);
    assert.equal(audit.rowCount, 0);

    const { page: again, request: second } = await visit(b, { prompt: 'login', id_token_hint: hint });
    const { external: back } = await signIn(b, again, person.username, PASSWORD, await totpCode(person.secret, 1));
    assert.ok(back?.searchParams.get('code'), 'the person the hint names signs in');
    await rp.redeem(back!, second);
  });

  test('auth_time is the moment of the sign-in, not of the consent given after it', async () => {
    const person = await newPerson('quinn');
    const b = new Browser(kluis.issuer);
    const { page, request } = await visit(b);
    const { res } = await signIn(b, page, person.username, PASSWORD, await totpCode(person.secret));
    const signedInBy = Math.floor(Date.now() / 1000);
    const consentPage = await res.text();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const { external } = await b.submit(formAction(consentPage, 'consent'), consentPage, { scope: ['email'] });
    const tokens = await rp.redeem(external!, request);
    assert.ok(tokens.claims()!.auth_time! <= signedInBy, `auth_time ${tokens.claims()!.auth_time} > ${signedInBy}`);
  });

  test('prompt=none without a session returns login_required to the client', async () => {
    const { external } = await visit(new Browser(kluis.issuer), { prompt: 'none' });
    assert.equal(external?.searchParams.get('error'), 'login_required');
    assert.equal(external?.searchParams.get('iss'), kluis.issuer);
  });

  test('a recent SCA is reused; prompt=login, max_age=0 and acr_values each ask for a fresh SCA', async () => {
    const b = await signedIn('judy');
    assert.equal((await visit(b)).kind, 'client', 'SSO within the SCA age');
    assert.equal((await visit(b, { prompt: 'none' })).kind, 'client', 'prompt=none with a fresh session gives a code');
    assert.equal((await visit(b, { prompt: 'login' })).kind, 'login');
    assert.equal((await visit(b, { max_age: '0' })).kind, 'login');
    assert.equal((await visit(b, { acr_values: 'urn:kluis:acr:sca' })).kind, 'login');
  });

  test('a session whose last SCA is older than SCA_MAX_AGE must authenticate again; with prompt=none it gets login_required', async () => {
    const b = await signedIn('mallory');
    assert.equal((await visit(b)).kind, 'client');
    // Age mallory's session's SCA by 6 minutes (the default SCA_MAX_AGE is 5). Only her session: another
    // test's session may hold no loginTs, and jsonb_set with a null value would null its payload.
    const aged = await t.db.query(
      `update oidc_models set payload = jsonb_set(payload, '{loginTs}', to_jsonb((payload->>'loginTs')::bigint - 360))
        where model = 'Session' and payload ? 'loginTs'
          and payload->>'accountId' = (select id from accounts where lower(username) = 'mallory')`,
    );
    assert.ok((aged.rowCount ?? 0) >= 1, "mallory's session was aged");
    assert.equal((await visit(b)).kind, 'login');
    assert.equal((await visit(b, { prompt: 'none' })).external?.searchParams.get('error'), 'login_required');
  });
});

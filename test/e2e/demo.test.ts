import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { SCA_ACR } from '../../src/oidc/provider/sca-policy.ts';
import { Browser, formAction } from '../support/browser.ts';
import { createTestDatabase } from '../support/database.ts';
import { withKluis } from '../support/fixture.ts';
import { startTestKluis, type TestKluis } from '../support/kluis.ts';
import { totpCode } from '../support/people.ts';
import { activate, signIn } from '../support/rp.ts';

// DEMO=on against a test database: what a plain `npm start` (DEMO=auto on the embedded database) does.

/** Kluis with DEMO=on on a database of its own: each test meets the demo person as a first start leaves them. */
async function demoKluis(t: TestContext): Promise<TestKluis> {
  const house = await withKluis({ env: { DEMO: 'on' } });
  t.after(() => house.stop());
  return house.kluis;
}

/** The demo person's first sign-in through the demo app (activation code, enrolment, consent); returns the secret. */
async function enrolDemo(kluis: TestKluis): Promise<string> {
  const demo = kluis.demo!;
  const browser = new Browser(kluis.issuer);
  const { res: login } = await browser.follow('/demo/login');
  const activated = await activate(browser, await login.text(), 'demo', demo.password, (await demo.activationCode())!);
  const consentPage = await (await browser.follow(activated.continueTo!)).res.text();
  const { res } = await browser.submit(formAction(consentPage, 'consent'), consentPage, {
    scope: ['profile', 'email'],
  });
  assert.equal(res.status, 200, 'the demo app shows the signed-in person');
  return activated.secret;
}

/** The ID token claims the demo app shows, parsed back from its page. */
function shownClaims(page: string): Record<string, unknown> {
  const json = /<pre id="demo-id-token">([\s\S]*?)<\/pre>/.exec(page)?.[1];
  assert.ok(json, `no ID token on the demo page:\n${page.slice(0, 1500)}`);
  return JSON.parse(json.replaceAll('&quot;', '"').replaceAll('&amp;', '&')) as Record<string, unknown>;
}

describe('demo data', () => {
  test('the demo password alone never enrols the demo person; a new activation code replaces the last one', async (t) => {
    const kluis = await demoKluis(t);
    const earlier = await kluis.demo!.activationCode();
    const current = await kluis.demo!.activationCode();
    assert.ok(earlier && current && earlier !== current);
    const browser = new Browser(kluis.issuer);
    const { res: login } = await browser.follow('/demo/login');
    const { res } = await signIn(browser, await login.text(), 'demo', kluis.demo!.password, earlier);
    const page = await res.text();
    assert.doesNotMatch(page, /totp-secret/, 'no enrolment with a replaced activation code');
    assert.match(page, /not correct/);
  });

  test('the demo person signs in through the demo app: password, activation code, TOTP enrolment, consent, validated ID token and userinfo', async (t) => {
    const kluis = await demoKluis(t);
    const demo = kluis.demo!;
    assert.equal(demo.username, 'demo');
    assert.equal(demo.redirectUri, `${kluis.issuer}/demo/callback`);

    const browser = new Browser(kluis.issuer);
    const start = await (await browser.request('/demo')).text();
    assert.match(start, /href="\/demo\/login"/);

    const { res: login } = await browser.follow('/demo/login');
    const loginPage = await login.text();
    assert.match(loginPage, /Kluis demo app/);
    // What the start banner prints while the demo person has no authenticator.
    const activationCode = await demo.activationCode();
    assert.ok(activationCode, 'an activation code for the un-enrolled demo person');
    const activated = await activate(browser, loginPage, 'demo', demo.password, activationCode);
    const next = activated.continueTo!;
    const { res: consent } = await browser.follow(next);
    const consentPage = await consent.text();
    const { res: result } = await browser.submit(formAction(consentPage, 'consent'), consentPage, {
      scope: ['profile', 'email'],
    });

    assert.equal(result.status, 200);
    const page = await result.text();
    const claims = shownClaims(page);
    assert.equal(claims.iss, kluis.issuer);
    assert.equal(claims.aud, 'kluis-demo');
    assert.equal(claims.acr, SCA_ACR);
    assert.deepEqual(claims.amr, ['pwd', 'otp']);
    assert.match(page, /id="demo-scope">openid profile email</);
    assert.match(page, /demo@example.com/, 'userinfo with the email claim');
  });

  test('Deny on the consent screen comes back to the demo app as access_denied', async (t) => {
    const kluis = await demoKluis(t);
    const secret = await enrolDemo(kluis);
    const browser = new Browser(kluis.issuer);
    const { res: login } = await browser.follow('/demo/login?prompt=consent');
    const loginPage = await login.text();
    const { res: mfa } = await browser.submit(formAction(loginPage, 'login'), loginPage, {
      username: 'demo',
      password: kluis.demo!.password,
    });
    const mfaPage = await mfa.text();
    const { res: consent } = await browser.submit(formAction(mfaPage, 'mfa'), mfaPage, {
      code: await totpCode(secret, 1),
    });
    const consentPage = await consent.text();
    const { res } = await browser.submit(formAction(consentPage, 'cancel'), consentPage, {});
    assert.equal(res.status, 400);
    assert.match(await res.text(), /id="demo-error">access_denied</);
  });

  test('a callback the demo app did not start is refused without calling the token endpoint', async (t) => {
    const kluis = await demoKluis(t);
    const res = await new Browser(kluis.issuer).request('/demo/callback?code=forged&state=forged');
    assert.equal(res.status, 400);
    assert.match(await res.text(), /not started here or has expired/);
  });

  test('a restart keeps the same demo person, password and client, and records their creation once', async (t) => {
    // Its own database and Kluis, as the others have, but stopped and started again by the test itself.
    const database = await createTestDatabase();
    let kluis: TestKluis | undefined;
    t.after(async () => {
      await kluis?.stop();
      await database.drop();
    });
    kluis = await startTestKluis(database.url, { DEMO: 'on' });
    await enrolDemo(kluis);
    const before = kluis.demo!;
    await kluis.stop();
    kluis = await startTestKluis(database.url, { DEMO: 'on' });
    assert.equal(kluis.demo!.password, before.password);
    assert.equal(await kluis.demo!.activationCode(), undefined, 'enrolled: the banner shows no activation code');
    assert.equal(kluis.demo!.clientSecret, before.clientSecret);
    assert.equal(kluis.demo!.redirectUri, `${kluis.issuer}/demo/callback`, 'the redirect URI follows the new issuer');
    const { rows } = await database.db.query<{ type: string; n: number }>(
      `select type, count(*)::int as n from audit_events where type in ('account.created', 'client.created') group by type order by type`,
    );
    assert.deepEqual(rows, [
      { type: 'account.created', n: 1 },
      { type: 'client.created', n: 1 },
    ]);
  });

  test('with DATABASE_URL set (DEMO=auto) there is no demo person, client or app', async () => {
    const other = await createTestDatabase();
    const plain = await startTestKluis(other.url);
    try {
      assert.equal(plain.demo, undefined);
      assert.equal((await fetch(new URL('/demo', plain.issuer))).status, 404);
      const { rows } = await other.db.query(`select 1 from accounts where username = 'demo'`);
      assert.equal(rows.length, 0);
    } finally {
      await plain.stop();
      await other.drop();
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { Browser, formAction } from '../support/browser.ts';
import { registerClient } from '../support/clients.ts';
import type { TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { runCli, type TestKluis } from '../support/kluis.ts';
import { totpCode } from '../support/people.ts';
import { startLogoutReceiver } from '../support/logout-receiver.ts';
import { RelyingParty } from '../support/rp.ts';
import { startTlsSite, type TlsSite } from '../support/tls.ts';
import { sectorOf } from '../../src/oidc/subjects/pairwise.ts';

// OIDC Core 8.1: what each client learns about one person, and what it cannot correlate.
let t: TestDatabase;
let kluis: TestKluis;
let site: TlsSite;
let person: { id: string; secret?: string | undefined };
const PASSWORD = 'pairwise passphrase 1';
const SCOPE = 'openid profile email';
const API = 'https://api.bank.example';
let house: KluisFixture<never, 'paula'>;

before(async () => {
  site = await startTlsSite({
    '/sector.json': ['https://d1.example/cb', 'https://d2.example/cb'],
    '/partial.json': ['https://d1.example/cb'],
    '/not-an-array.json': { redirect_uris: ['https://d1.example/cb'] },
  });
  house = await withKluis({
    resourceServers: [
      { identifier: API, scope: 'accounts:read', accessTokenFormat: 'jwt', signingAlg: 'ES256', accessTokenTtl: 300 },
    ],
    people: { paula: { password: PASSWORD, totp: true, email: 'paula@example.com' } },
  });
  ({ database: t, kluis } = house);
  person = house.people.paula;
});
after(async () => {
  await house?.stop();
  await site?.close();
});

async function client(redirectUris: string[], extra: Record<string, unknown> = {}) {
  const registered = await registerClient(t.url, { redirect_uris: redirectUris, scope: SCOPE, ...extra });
  return { registered, rp: await RelyingParty.create(kluis.issuer, registered as AdapterPayload, redirectUris[0]) };
}

/** Signs paula in (fresh SCA each time) and consents; returns the sub values the client sees everywhere. */
async function subjects(rp: RelyingParty, params: Record<string, string> = {}, consentScopes = ['profile', 'email']) {
  const browser = new Browser(kluis.issuer);
  const request = await rp.request(params);
  const { res } = await browser.follow(request.url);
  const loginPage = await res.text();
  const { res: mfa } = await browser.submit(formAction(loginPage, 'login'), loginPage, {
    username: 'paula',
    password: PASSWORD,
  });
  const mfaPage = await mfa.text();
  // Each sign-in here falls in the same 30 s step; replay protection (tested elsewhere) would refuse the code again.
  await t.db.query('update accounts set totp_last_step = null where username = $1', ['paula']);
  let { res: next, external } = await browser.submit(formAction(mfaPage, 'mfa'), mfaPage, {
    code: await totpCode(person.secret!),
  });
  if (!external) {
    const consentPage = await next.text();
    ({ external } = await browser.submit(formAction(consentPage, 'consent'), consentPage, { scope: consentScopes }));
  }
  assert.ok(external, 'signed in');
  const tokens = await rp.redeem(external, request);
  const idToken = tokens.claims()!.sub;
  // An access token for an API (resource indicator) is not for userinfo; the API introspects or verifies it.
  const forApi = params.resource !== undefined;
  const userinfo = forApi ? undefined : (await oidc.fetchUserInfo(rp.config, tokens.access_token, idToken)).sub;
  const introspection = forApi ? undefined : (await oidc.tokenIntrospection(rp.config, tokens.access_token)).sub;
  return { idToken, userinfo, introspection, browser, tokens };
}

/** The sub paula has at a client redirecting to a.example (one sector, so at every such client), from a sign-in. */
async function subAtA() {
  return (await subjects((await client(['https://a.example/cb'])).rp)).idToken;
}

describe('pairwise subject identifiers', () => {
  test('a client gets a sub that is not the account id, the same in the ID token, userinfo and introspection', async () => {
    const { registered, rp } = await client(['https://a.example/cb']);
    assert.equal(registered.subject_type, 'pairwise', 'pairwise is the default');
    const a = await subjects(rp);
    assert.notEqual(a.idToken, person.id);
    assert.equal(a.userinfo, a.idToken);
    assert.equal(a.introspection, a.idToken);
    assert.match(a.idToken, /^[\w-]{43}$/, 'an HMAC-SHA256, base64url');
  });

  test('the value is stable: the same client gets the same sub at the next sign-in', async () => {
    const { rp } = await client(['https://a.example/cb']);
    const a = await subjects(rp);
    const again = await subjects(rp);
    assert.equal(again.idToken, a.idToken);
  });

  test('a client in another sector gets an unrelated sub; a client in the same sector (other path) the same', async () => {
    const atA = await subAtA();
    const other = await subjects((await client(['https://b.example/cb'])).rp);
    assert.notEqual(other.idToken, atA);
    const samePlace = await subjects((await client(['https://a.example/elsewhere'])).rp);
    assert.equal(samePlace.idToken, atA);
  });

  test('with a sector_identifier_uri the sector is its host, across redirect hosts', async () => {
    const atA = await subAtA();
    const sectorUri = `${site.origin}/sector.json`;
    const result = await runCli(
      ['clients', 'add'],
      { DATABASE_URL: t.url, NODE_EXTRA_CA_CERTS: site.certFile },
      JSON.stringify({
        redirect_uris: ['https://d1.example/cb', 'https://d2.example/cb'],
        sector_identifier_uri: sectorUri,
        scope: SCOPE,
      }),
    );
    assert.equal(result.code, 0, result.stderr);
    const spanning = JSON.parse(result.stdout) as AdapterPayload;
    const viaD1 = await subjects(await RelyingParty.create(kluis.issuer, spanning, 'https://d1.example/cb'));
    const viaD2 = await subjects(await RelyingParty.create(kluis.issuer, spanning, 'https://d2.example/cb'));
    assert.equal(viaD1.idToken, viaD2.idToken);
    assert.notEqual(viaD1.idToken, atA);
    // The sector is the sector_identifier_uri's host (localhost here); a client redirecting to that loopback host
    // is its own sector all the same: a loopback host names nobody.
    const onSectorHost = await subjects((await client([`${site.origin}/cb`])).rp);
    assert.notEqual(onSectorHost.idToken, viaD1.idToken);
  });

  test('a bad sector_identifier_uri is rejected: not https, unreachable, not an array, missing a redirect URI', async () => {
    const env = { DATABASE_URL: t.url, NODE_EXTRA_CA_CERTS: site.certFile };
    const attempt = (uri: string) =>
      runCli(
        ['clients', 'add'],
        env,
        JSON.stringify({
          redirect_uris: ['https://d1.example/cb', 'https://d2.example/cb'],
          sector_identifier_uri: uri,
        }),
      );
    const cases: [string, RegExp][] = [
      [`http://localhost/sector.json`, /sector_identifier_uri must be an? https (URL|uri)/],
      ['https://127.0.0.1:1/sector.json', /sector_identifier_uri could not be fetched/],
      [`${site.origin}/missing.json`, /sector_identifier_uri could not be fetched/],
      [`${site.origin}/not-an-array.json`, /sector_identifier_uri must return a JSON array/],
      [
        `${site.origin}/partial.json`,
        /sector_identifier_uri does not list every redirect URI \(missing https:\/\/d2.example\/cb\)/,
      ],
    ];
    // In parallel: a fetch that fails answers only at its 5 s deadline.
    const results = await Promise.all(cases.map(([uri]) => attempt(uri)));
    for (const [i, [uri, message]] of cases.entries()) {
      const result = results[i]!;
      assert.equal(result.code, 1, uri);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, message);
    }
    const { rows } = await t.db.query(
      `select 1 from oidc_models where model = 'Client' and payload->>'sector_identifier_uri' like '%partial%'`,
    );
    assert.equal(rows.length, 0, 'nothing stored');
  });

  test('two redirect hosts without a sector_identifier_uri are refused', async () => {
    const result = await runCli(
      ['clients', 'add'],
      { DATABASE_URL: t.url },
      JSON.stringify({ redirect_uris: ['https://d1.example/cb', 'https://d2.example/cb'] }),
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /sector_identifier_uri is mandatory/);
  });

  test('a JWT access token for an API carries the same pairwise sub', async () => {
    const atA = await subAtA();
    const { rp } = await client(['https://a.example/api-cb'], { scope: `${SCOPE} accounts:read` });
    const { idToken, tokens } = await subjects(rp, { resource: API, scope: 'openid accounts:read' }, ['accounts:read']);
    const accessToken = decodeJwt(tokens.access_token);
    assert.equal(accessToken.aud, API);
    assert.equal(accessToken.sub, idToken);
    assert.equal(idToken, atA);
  });

  test('a back-channel logout token carries the pairwise sub the client knows', async () => {
    const atA = await subAtA();
    const receiver = await startLogoutReceiver();
    try {
      const { rp } = await client(['https://a.example/logout-cb'], { backchannel_logout_uri: receiver.uri });
      const { idToken, browser, tokens } = await subjects(rp);
      const { res } = await browser.follow(`/session/end?${new URLSearchParams({ id_token_hint: tokens.id_token! })}`);
      const page = await res.text();
      assert.doesNotMatch(page, /https:\/\/fonts/, 'Kluis renders its own logout page');
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)![1]!;
      const { res: done } = await browser.follow('/session/end/confirm', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ xsrf, logout: 'yes' }),
      });
      assert.match(await done.text(), /You are signed out/);
      const received = await receiver.received();
      assert.equal(received.length, 1, 'one logout token');
      const logoutToken = decodeJwt(received[0]!);
      assert.equal(logoutToken.sub, idToken);
      assert.equal(logoutToken.sub, atA);
    } finally {
      receiver.close();
    }
  });

  test('native apps on loopback redirect URIs each get their own sub: the sector is the client, not 127.0.0.1', async () => {
    const native = { application_type: 'native' };
    const one = await subjects((await client(['http://127.0.0.1/cb'], native)).rp);
    const other = await subjects((await client(['http://127.0.0.1/cb'], native)).rp);
    assert.notEqual(one.idToken, other.idToken, 'two unrelated apps cannot correlate the person');
    assert.equal(one.userinfo, one.idToken);
    assert.equal(one.introspection, one.idToken);
    const viaLocalhost = await subjects((await client(['http://localhost/cb'], native)).rp);
    assert.notEqual(viaLocalhost.idToken, one.idToken);
    assert.notEqual(viaLocalhost.idToken, other.idToken);
  });

  test('hosts that name nobody (localhost., 0.0.0.0, [::], private addresses, .local) make each client its own sector', async () => {
    const sectorOfStored = async (uris: string[]) => {
      const registered = await registerClient(t.url, {
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: uris,
      });
      const stored = await kluis.host.provider.Client.find(String(registered.client_id));
      return { id: String(registered.client_id), sector: sectorOf(stored!) };
    };
    for (const uri of [
      'https://localhost./cb',
      'https://0.0.0.0/cb',
      'https://[::]/cb',
      'https://192.168.1.20/cb',
      'https://[fd00::1]/cb',
      'https://printer.local/cb',
    ]) {
      const [one, other] = [await sectorOfStored([uri]), await sectorOfStored([uri])];
      assert.equal(one.sector, `client:${one.id}`, uri);
      assert.equal(other.sector, `client:${other.id}`, uri);
    }
    // A fully qualified host (with the root's dot) is the same party, and the same sector, as without it.
    const dotted = await sectorOfStored(['https://bank.example./cb']);
    assert.equal(dotted.sector, 'bank.example');
    assert.equal((await sectorOfStored(['https://bank.example/cb'])).sector, 'bank.example');
  });

  test('a first-party client the operator marks public gets the account id', async () => {
    const { registered, rp } = await client(['https://bank.example/cb'], { subject_type: 'public' });
    assert.equal(registered.subject_type, 'public');
    assert.equal((await subjects(rp)).idToken, person.id);
  });
});

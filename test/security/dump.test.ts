import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { Browser, formAction } from '../support/browser.ts';
import { M2M_METADATA, registerClient, relyingParty } from '../support/clients.ts';
import type { TestDatabase } from '../support/database.ts';
import { authorizationParameters, fapiConfiguration, registerFapiClient } from '../support/fapi.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { runCli, type TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { activate, RelyingParty, signIn } from '../support/rp.ts';
import { STRONG_SECRET } from '../support/secrets.ts';

// Issue 13 finding 1: a database dump (without KLUIS_SECRET) handed out live credentials. During and after every kind
// of flow, pg_dump must contain none of the values a client or a person holds.
let t: TestDatabase;
let kluis: TestKluis;
let house: KluisFixture<never, never>;
const PASSWORD = 'dump test passphrase';
const ENV = { KLUIS_SECRET: STRONG_SECRET };
/** Every bearer value and secret handed out during the flows, by what it is. */
const handedOut: [string, string][] = [];
const keep = (what: string, value: unknown) => {
  if (typeof value === 'string' && value.length >= 8) handedOut.push([what, value]);
};

before(async () => {
  house = await withKluis({ env: ENV });
  ({ database: t, kluis } = house);
});
after(() => house?.stop());

/** pg_dump of the whole database as plain SQL: Debian's, or the newest under /usr/lib/postgresql. */
async function dump(): Promise<string> {
  const candidates = [
    '/usr/bin/pg_dump',
    ...(existsSync('/usr/lib/postgresql')
      ? readdirSync('/usr/lib/postgresql')
          .sort()
          .reverse()
          .map((v) => `/usr/lib/postgresql/${v}/bin/pg_dump`)
      : []),
  ];
  const pgDump = candidates.find((path) => existsSync(path));
  assert.ok(pgDump, 'pg_dump is needed for this test (apt-get install postgresql-client)');
  const { stdout } = await promisify(execFile)(pgDump, ['--no-owner', '--data-only', t.url], {
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
}

describe('a database dump', () => {
  test('during and after activation, code, refresh, client credentials, DCR with IAT and RAT and a FAPI flow, holds none of the values handed out', async () => {
    // A person with an authenticator, through the authorization code flow with refresh (rotation) and logout-free SSO.
    // The first sign-in activates the person: activation code, then a new authenticator and recovery codes.
    const person = await addPerson(t.url, 'dumpy', PASSWORD, {}, ENV);
    keep('activation code', person.activation_code);
    const web = await registerClient(
      t.url,
      {
        client_name: 'Dump web',
        redirect_uris: ['https://dump.example/cb'],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile offline_access',
      },
      ENV,
    );
    keep('client secret', web.client_secret);
    const rp = await RelyingParty.create(kluis.issuer, web as AdapterPayload, 'https://dump.example/cb');
    const browser = new Browser(kluis.issuer);
    const request = await rp.request({ scope: 'openid profile offline_access', prompt: 'consent' });
    const { res: login } = await browser.follow(request.url);
    const enrolled = await activate(browser, await login.text(), 'dumpy', PASSWORD, String(person.activation_code));
    keep('TOTP secret', enrolled.secret);
    assert.equal(enrolled.codes.length, 10);
    for (const [i, code] of enrolled.codes.entries()) keep(`recovery code ${i + 1}`, code);
    const { res: consent } = await browser.follow(enrolled.continueTo!);
    const consentPage = await consent.text();
    const { external: callback } = await browser.submit(formAction(consentPage, 'consent'), consentPage, {
      scope: ['profile', 'offline_access'],
    });
    assert.ok(callback, 'back at the app');
    keep('authorization code', callback.searchParams.get('code'));
    for (const [name, value] of browser.cookies) keep(`cookie ${name}`, value);
    const tokens = await rp.redeem(callback, request);
    keep('access token', tokens.access_token);
    keep('refresh token', tokens.refresh_token);
    const rotated = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
    keep('rotated access token', rotated.access_token);
    keep('rotated refresh token', rotated.refresh_token);

    // Machine to machine.
    const m2m = await registerClient(t.url, M2M_METADATA, ENV);
    keep('m2m client secret', m2m.client_secret);
    keep(
      'client credentials token',
      (await oidc.clientCredentialsGrant(await relyingParty(kluis.issuer, m2m))).access_token,
    );

    // Dynamic registration with an initial access token, then RFC 7592 read and update with the registration token.
    const iat = await runCli(['iat', 'create', '--expires-in', '600'], { DATABASE_URL: t.url, ...ENV });
    assert.equal(iat.code, 0, iat.stderr);
    const initialAccessToken = (JSON.parse(iat.stdout) as { initial_access_token: string }).initial_access_token;
    keep('initial access token', initialAccessToken);
    const registered = await fetch(new URL('/reg', kluis.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${initialAccessToken}` },
      body: JSON.stringify({ redirect_uris: ['https://dcr.example/cb'], client_name: 'Dump DCR' }),
    });
    assert.equal(registered.status, 201);
    const dcr = (await registered.json()) as Record<string, string>;
    keep('DCR client secret', dcr.client_secret);
    keep('registration access token', dcr.registration_access_token);
    const {
      client_secret: _s,
      registration_access_token: _r,
      registration_client_uri: _u,
      client_id_issued_at: _i,
      client_secret_expires_at: _e,
      ...metadata
    } = dcr;
    const updated = await fetch(dcr.registration_client_uri!, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${dcr.registration_access_token}` },
      body: JSON.stringify({ ...metadata, client_name: 'Dump DCR renamed' }),
    });
    assert.equal(updated.status, 200);
    keep(
      'rotated registration access token',
      ((await updated.json()) as Record<string, string>).registration_access_token,
    );

    // FAPI 2.0: PAR, private_key_jwt, DPoP-bound tokens.
    const fapi = await registerFapiClient(t.url, {}, ENV);
    const config = await fapiConfiguration(kluis.issuer, fapi);
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const { verifier, params } = await authorizationParameters({ scope: 'openid offline_access', prompt: 'consent' });
    const parUrl = await oidc.buildAuthorizationUrlWithPAR(config, params, { DPoP: dpop });
    keep('request_uri', parUrl.searchParams.get('request_uri')?.split(':').pop());
    // The same person signs in again within one TOTP step: let the step be used again (the replay guard is tested elsewhere).
    await t.db.query('update accounts set totp_last_step = null where id = $1', [person.id]);
    const fapiBrowser = new Browser(kluis.issuer);
    const { res: fapiLogin } = await fapiBrowser.follow(parUrl);
    const fapiLoginPage = await fapiLogin.text();
    // A dump taken while the sign-in is open holds neither the request_uri nor the interaction's cookie values.
    const midFlow = await dump();
    const open = [
      ...handedOut.filter(([what]) => what === 'request_uri'),
      ...[...fapiBrowser.cookies].map(([name, value]): [string, string] => [`open interaction cookie ${name}`, value]),
    ];
    assert.ok(open.length >= 3, 'the request_uri and the interaction and resume cookies');
    assert.deepEqual(
      open.filter(([, value]) => midFlow.includes(value)).map(([what]) => what),
      [],
      'values present in the mid-flow dump',
    );
    const { res: fapiConsent } = await signIn(
      fapiBrowser,
      fapiLoginPage,
      'dumpy',
      PASSWORD,
      await totpCode(enrolled.secret),
    );
    const fapiConsentPage = await fapiConsent.text();
    const { external: fapiCallback } = await fapiBrowser.submit(
      formAction(fapiConsentPage, 'consent'),
      fapiConsentPage,
      { scope: ['offline_access'] },
    );
    assert.ok(fapiCallback, 'back at the FAPI client');
    keep('FAPI authorization code', fapiCallback.searchParams.get('code'));
    const fapiTokens = await oidc.authorizationCodeGrant(
      config,
      fapiCallback,
      { pkceCodeVerifier: verifier, idTokenExpected: true },
      undefined,
      { DPoP: dpop },
    );
    keep('FAPI access token', fapiTokens.access_token);
    keep('FAPI refresh token', fapiTokens.refresh_token);
    for (const [name, value] of fapiBrowser.cookies) keep(`FAPI browser cookie ${name}`, value);

    const text = await dump();
    assert.ok(text.includes('oidc_models'), 'the dump has the protocol state');
    assert.ok(handedOut.length >= 20, `collected ${handedOut.length} values`);
    const found = handedOut.filter(([, value]) => text.includes(value)).map(([what]) => what);
    assert.deepEqual(found, [], 'values present in the dump');
    // Cookies are signed; without the cookie keys (encrypted under KLUIS_SECRET) none of them can be forged either.
    assert.ok(!/dev_master_secret/.test(text), 'no master secret in the database');
  });
});

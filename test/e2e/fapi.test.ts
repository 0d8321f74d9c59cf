import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { autoSubmit, Browser, formAction } from '../support/browser.ts';
import { M2M_METADATA, registerClient, relyingParty } from '../support/clients.ts';
import type { TestDatabase } from '../support/database.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import {
  authoriseInBrowser,
  authorizationParameters,
  fapiConfiguration,
  inDays,
  PAYMENT,
  PAYMENTS,
  registerFapiClient,
  type FapiClient,
  PAYMENTS_API,
} from '../support/fapi.ts';
import type { TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { signIn } from '../support/rp.ts';
import { selfSignedCertificate } from '../support/tls.ts';
import { tempDir } from '../support/tempdir.ts';
import { storedRowId } from '../support/rows.ts';

// FAPI 2.0 clients driven the way an open banking relying party drives Kluis: openid-client with PAR,
// private_key_jwt, DPoP or certificate-bound tokens, and rich authorization requests for payments and accounts.
const PASSWORD = 'correct horse battery staple';
const CERT_HEADER = 'X-SSL-Client-Cert';
const ACCOUNTS = 'https://api.bank.example/accounts';
let t: TestDatabase;
let kluis: TestKluis;
let dpopClient: FapiClient;
let mtlsClient: FapiClient;
let introspector: AdapterPayload;
let certs: { dir: Awaited<ReturnType<typeof tempDir>>; mine: string; other: string };
let house: KluisFixture<'introspector', never>;

const accountAccess = () => ({
  type: 'account_information',
  accounts: [{ iban: 'DE89370400440532013000' }],
  access: ['balances', 'transactions'],
  expiresAt: inDays(90),
});

const escapedPem = (file: string) => encodeURIComponent(readFileSync(file, 'utf8'));

before(async () => {
  house = await withKluis({
    resourceServers: [
      PAYMENTS_API,
      { identifier: ACCOUNTS, scope: 'accounts', accessTokenFormat: 'jwt', signingAlg: 'PS256', accessTokenTtl: 300 },
    ],
    clients: { introspector: { ...M2M_METADATA, client_name: 'Bank API', introspect_any_token: true } },
    env: { TRUST_PROXY: 'true', MTLS_CERTIFICATE_HEADER: CERT_HEADER },
  });
  ({ database: t, kluis } = house);
  introspector = house.clients.introspector;
  const dir = await tempDir('kluis-mtls');
  certs = {
    dir,
    mine: selfSignedCertificate(dir.path, '/CN=open-banking-app', 'mine').certFile,
    other: selfSignedCertificate(dir.path, '/CN=someone-else', 'other').certFile,
  };
  dpopClient = await registerFapiClient(t.url, {
    scope: 'openid offline_access payments accounts',
    authorization_details_types: ['payment_initiation', 'account_information'],
  });
  mtlsClient = await registerFapiClient(
    t.url,
    {
      dpop_bound_access_tokens: false,
      tls_client_certificate_bound_access_tokens: true,
      scope: 'openid offline_access accounts',
    },
    { TRUST_PROXY: 'true', MTLS_CERTIFICATE_HEADER: CERT_HEADER },
  );
});
after(async () => {
  await house?.stop();
  await certs?.dir.remove();
});

/** Drives the browser from the authorization URL through password, TOTP and consent to the client's callback. */
async function authorise(
  url: URL,
  username: string,
  secret: string,
  expectOnConsent?: RegExp,
  browser = new Browser(kluis.issuer),
): Promise<URL> {
  const { callback, consentPage } = await authoriseInBrowser(browser, url, username, PASSWORD, secret, [
    'offline_access',
    'payments',
    'accounts',
  ]);
  if (expectOnConsent) assert.match(consentPage, expectOnConsent);
  return callback;
}

describe('FAPI 2.0 with private_key_jwt and DPoP', () => {
  test('PAR, fresh SCA, consent to account access, DPoP-bound tokens carrying the authorised details, refresh without rotation', async () => {
    const person = await addPerson(t.url, 'fiona', PASSWORD, { totp: true });
    const config = await fapiConfiguration(kluis.issuer, dpopClient);
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const details = [accountAccess()];
    const { verifier, params } = await authorizationParameters({
      scope: 'openid offline_access accounts',
      prompt: 'consent',
      resource: ACCOUNTS,
      authorization_details: JSON.stringify(details),
    });
    const url = await oidc.buildAuthorizationUrlWithPAR(config, params, { DPoP: dpop });
    assert.ok(url.searchParams.get('request_uri')?.startsWith('urn:ietf:params:oauth:request_uri:'));

    const browser = new Browser(kluis.issuer);
    const callback = await authorise(
      url,
      'fiona',
      person.secret!,
      /See the balances and transactions of account DE89 3704 0044 0532 0130 00/,
      browser,
    );
    assert.equal(callback.searchParams.get('iss'), kluis.issuer, 'RFC 9207 iss in the authorization response');

    const tokens = await oidc.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, idTokenExpected: true },
      { resource: ACCOUNTS },
      { DPoP: dpop },
    );
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    assert.deepEqual(tokens.authorization_details, details);
    assert.ok(tokens.refresh_token);

    // The JWT access token for the accounts API is bound to the DPoP key and carries exactly the authorised details.
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${kluis.issuer}/jwks`)), {
      issuer: kluis.issuer,
      audience: ACCOUNTS,
    });
    assert.deepEqual(payload.authorization_details, details);
    assert.equal((payload.cnf as { jkt?: string }).jkt, await dpop.calculateThumbprint());

    // The refresh token lasts as long as the account access the person agreed to, not the general 30 days.
    const { rows } = await t.db.query<{ expires: Date }>(
      `select expires_at as expires from oidc_models where model = 'RefreshToken' and id = $1`,
      [await storedRowId(t.db, 'RefreshToken', tokens.refresh_token!)],
    );
    assert.ok(
      Math.abs(rows[0]!.expires.getTime() - Date.parse(`${details[0]!.expiresAt}T23:59:59Z`)) < 120_000,
      `refresh token expires ${rows[0]!.expires.toISOString()}`,
    );

    // Refresh proves the DPoP key again; the FAPI client's refresh token is not rotated (FAPI 2.0 SP 5.3.2.1).
    const refreshed = await oidc.refreshTokenGrant(
      config,
      tokens.refresh_token!,
      { resource: ACCOUNTS },
      { DPoP: dpop },
    );
    assert.equal(refreshed.token_type.toLowerCase(), 'dpop');
    assert.equal(refreshed.refresh_token ?? tokens.refresh_token, tokens.refresh_token);
    assert.deepEqual(refreshed.authorization_details, details);
    const again = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource: ACCOUNTS }, { DPoP: dpop });
    assert.ok(again.access_token, 'the same refresh token keeps working');

    // Without the DPoP proof the refresh is refused.
    await assert.rejects(
      oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource: ACCOUNTS }),
      (err: oidc.ResponseBodyError) => {
        assert.equal(err.error, 'invalid_grant');
        return true;
      },
    );

    // The account area shows the account access with its details and expiry; withdrawing it ends the refresh token.
    const { res: list } = await browser.follow('/account/consents');
    const listPage = await list.text();
    assert.match(listPage, /See the balances and transactions of account DE89 3704 0044 0532 0130 00/);
    const day = new Intl.DateTimeFormat('en', { dateStyle: 'long', timeZone: 'UTC' }).format(
      new Date(`${details[0]!.expiresAt}T12:00:00Z`),
    );
    assert.match(listPage, new RegExp(`Until ${day}`));
    const revoke = new RegExp(
      `data-client="${dpopClient.clientId}"[\\s\\S]*?href="(/account/consents/[^"]+/revoke)"`,
    ).exec(listPage)![1]!;
    const { res: confirm } = await browser.follow(revoke);
    const confirmPage = await confirm.text();
    const revoked = await browser.request(revoke, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: /name="csrf" value="([^"]+)"/.exec(confirmPage)![1]! }),
    });
    assert.equal(revoked.status, 303);
    await assert.rejects(
      oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource: ACCOUNTS }, { DPoP: dpop }),
      (err: oidc.ResponseBodyError) => {
        assert.equal(err.error, 'invalid_grant');
        return true;
      },
    );

    // The history keeps what was authorised with the consent given; the withdrawal does not copy it again.
    const grantId = /\/account\/consents\/([^/]+)\/revoke/.exec(revoke)![1]!;
    const { rows: ledger } = await t.db.query<{ action: string; authorization_details: unknown }>(
      'select action, authorization_details from consent_ledger where grant_id = $1 order by id',
      [grantId],
    );
    assert.deepEqual(ledger, [
      { action: 'granted', authorization_details: details },
      { action: 'revoked', authorization_details: [] },
    ]);
    const history = await (await browser.follow('/account/history')).res.text();
    assert.match(history, /See the balances and transactions of account DE89 3704 0044 0532 0130 00/);
  });

  test('the ID token and userinfo answer only with the DPoP proof', async () => {
    const person = await addPerson(t.url, 'gina', PASSWORD, { totp: true });
    const config = await fapiConfiguration(kluis.issuer, dpopClient);
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const { verifier, params } = await authorizationParameters();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, params, { DPoP: dpop });
    const callback = await authorise(url, 'gina', person.secret!);
    const tokens = await oidc.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, idTokenExpected: true },
      undefined,
      { DPoP: dpop },
    );
    const sub = tokens.claims()!.sub;
    const info = await oidc.fetchUserInfo(config, tokens.access_token, sub, { DPoP: dpop });
    assert.equal(info.sub, sub);
    const bearer = await fetch(`${kluis.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(bearer.status, 401);
  });

  test('"Not you?" on the consent page of a pushed request: another person signs in and the app gets their code', async () => {
    const first = await addPerson(t.url, 'ilona', PASSWORD, { totp: true });
    const second = await addPerson(t.url, 'iwan', PASSWORD, { totp: true });
    const config = await fapiConfiguration(kluis.issuer, dpopClient);
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const { verifier, params } = await authorizationParameters();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, params, { DPoP: dpop });
    const browser = new Browser(kluis.issuer);
    const { res: login } = await browser.follow(url);
    const { res: consent } = await signIn(
      browser,
      await login.text(),
      'ilona',
      PASSWORD,
      await totpCode(first.secret!),
    );
    const consentPage = await consent.text();
    assert.match(consentPage, /Signed in as ilona\./);

    // The request_uri is spent: the switch goes on within this request rather than starting it again.
    const { res: switched } = await browser.submit(formAction(consentPage, 'switch'), consentPage, {});
    const { res: ending } = await signIn(
      browser,
      await switched.text(),
      'iwan',
      PASSWORD,
      await totpCode(second.secret!),
    );
    const { res: again } = await autoSubmit(browser, await ending.text());
    const secondPage = await again.text();
    assert.match(secondPage, /Signed in as iwan\./);
    const { external } = await browser.submit(formAction(secondPage, 'consent'), secondPage, {});
    const tokens = await oidc.authorizationCodeGrant(
      config,
      external!,
      { pkceCodeVerifier: verifier, idTokenExpected: true },
      undefined,
      { DPoP: dpop },
    );
    assert.ok(tokens.access_token);
    const { rows } = await t.db.query<{ account_id: string }>(
      `select account_id from consent_ledger where account_id = any($1)`,
      [[first.id, second.id]],
    );
    assert.deepEqual(
      rows.map((row) => row.account_id),
      [second.id],
    );
  });
});

describe('FAPI 2.0 with private_key_jwt and mutual TLS', () => {
  test('access tokens are bound to the certificate the proxy passed, and refused with another certificate', async () => {
    const person = await addPerson(t.url, 'hugo', PASSWORD, { totp: true });
    const config = await fapiConfiguration(kluis.issuer, mtlsClient, { [CERT_HEADER]: escapedPem(certs.mine) });
    const { verifier, params } = await authorizationParameters({ scope: 'openid offline_access', prompt: 'consent' });
    const url = await oidc.buildAuthorizationUrlWithPAR(config, params);
    const callback = await authorise(url, 'hugo', person.secret!);
    assert.equal(callback.searchParams.get('iss'), kluis.issuer);
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      idTokenExpected: true,
    });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');

    const rs = await relyingParty(kluis.issuer, introspector);
    const introspection = await oidc.tokenIntrospection(rs, tokens.access_token);
    assert.equal(introspection.active, true);
    assert.ok(
      (introspection.cnf as Record<string, string> | undefined)?.['x5t#S256'],
      'certificate thumbprint confirmation (RFC 8705 3.1)',
    );

    const me = (cert: string | undefined) =>
      fetch(`${kluis.issuer}/me`, {
        headers: {
          authorization: `Bearer ${tokens.access_token}`,
          ...(cert ? { [CERT_HEADER]: escapedPem(cert) } : {}),
        },
      });
    assert.equal((await me(certs.mine)).status, 200);
    assert.equal((await me(certs.other)).status, 401, 'another certificate');
    assert.equal((await me(undefined)).status, 401, 'no certificate');

    // The refresh token is not rotated; it is bound to the client through its private_key_jwt authentication
    // (RFC 8705 4), and the token endpoint still needs a certificate to bind the new access token to.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.equal(refreshed.refresh_token ?? tokens.refresh_token, tokens.refresh_token);
    const noCertificate = await fapiConfiguration(kluis.issuer, mtlsClient);
    await assert.rejects(
      oidc.refreshTokenGrant(noCertificate, tokens.refresh_token!),
      (err: oidc.ResponseBodyError) => {
        assert.equal(err.error, 'invalid_grant');
        return true;
      },
    );
  });
});

describe('FAPI 2.0 with self-signed mutual TLS client authentication', () => {
  test('a client authenticates with the certificate pinned in its JWKS; another certificate is invalid_client', async () => {
    const certificate = new X509Certificate(readFileSync(certs.mine));
    const jwk = {
      ...(certificate.publicKey.export({ format: 'jwk' }) as Record<string, unknown>),
      x5c: [certificate.raw.toString('base64')],
      kid: 'tls',
      use: 'sig',
    };
    const client = await registerClient(
      t.url,
      {
        ...M2M_METADATA,
        fapi_profile: '2.0',
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        jwks: { keys: [jwk] },
        tls_client_certificate_bound_access_tokens: true,
        scope: 'accounts',
      },
      { TRUST_PROXY: 'true', MTLS_CERTIFICATE_HEADER: CERT_HEADER },
    );
    assert.equal(client.client_secret, undefined);
    const token = (cert: string | undefined) =>
      fetch(`${kluis.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(cert ? { [CERT_HEADER]: escapedPem(cert) } : {}),
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: String(client.client_id) }),
      });
    const ok = await token(certs.mine);
    assert.equal(ok.status, 200);
    const { access_token } = (await ok.json()) as { access_token: string };
    const introspection = await oidc.tokenIntrospection(await relyingParty(kluis.issuer, introspector), access_token);
    assert.equal(
      (introspection.cnf as Record<string, string>)['x5t#S256'],
      createHash('sha256').update(certificate.raw).digest('base64url'),
    );
    for (const cert of [certs.other, undefined]) {
      const refused = await token(cert);
      assert.equal(refused.status, 401, String(cert));
      assert.equal(((await refused.json()) as { error: string }).error, 'invalid_client');
    }
  });
});

describe('payment consent with dynamic linking', () => {
  test('the payment is shown while the person authenticates and consents, bound into the token, and single-use', async () => {
    const person = await addPerson(t.url, 'ivo', PASSWORD, { totp: true });
    const config = await fapiConfiguration(kluis.issuer, dpopClient);
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const { verifier, params } = await authorizationParameters({
      scope: 'openid offline_access payments',
      prompt: 'consent',
      resource: PAYMENTS,
      authorization_details: JSON.stringify([PAYMENT]),
    });
    const url = await oidc.buildAuthorizationUrlWithPAR(config, params, { DPoP: dpop });

    const browser = new Browser(kluis.issuer);
    const { res: login } = await browser.follow(url);
    const loginPage = await login.text();
    const summary = /Pay €50\.00 to Acme BV, NL91 ABNA 0417 1643 00/;
    assert.match(loginPage, summary, 'shown before the first factor');
    const { res: mfa } = await browser.submit(formAction(loginPage, 'login'), loginPage, {
      username: 'ivo',
      password: PASSWORD,
    });
    const mfaPage = await mfa.text();
    assert.match(mfaPage, summary, 'shown with the second factor (RTS Art 5(1)(a))');
    const { res: consent } = await browser.submit(formAction(mfaPage, 'mfa'), mfaPage, {
      code: await totpCode(person.secret!),
    });
    const consentPage = await consent.text();
    assert.match(consentPage, /asks you to authorise a payment/);
    assert.match(consentPage, summary);
    assert.match(consentPage, /Reference: Invoice 2026-114/);
    const { external: callback } = await browser.submit(formAction(consentPage, 'consent'), consentPage, {
      scope: ['payments'],
    });
    assert.ok(callback);

    const tokens = await oidc.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, idTokenExpected: true },
      { resource: PAYMENTS },
      { DPoP: dpop },
    );
    assert.deepEqual(tokens.authorization_details, [PAYMENT]);
    assert.equal(tokens.refresh_token, undefined, 'a payment gets no refresh token');

    const rs = await relyingParty(kluis.issuer, introspector);
    const introspection = await oidc.tokenIntrospection(rs, tokens.access_token);
    assert.equal(introspection.active, true);
    assert.deepEqual(introspection.authorization_details, [PAYMENT]);

    // The audit log holds what was authorised, and with which authentication (RTS Art 5).
    const { rows: audited } = await t.db.query<{ details: Record<string, unknown> }>(
      `select details from audit_events where type = 'consent.granted' and client_id = $1 and details ? 'authorised' order by id desc limit 1`,
      [dpopClient.clientId],
    );
    assert.deepEqual(audited[0]!.details.authorised, ['Pay €50.00 to Acme BV, NL91 ABNA 0417 1643 00']);
    assert.deepEqual(JSON.parse(String(audited[0]!.details.authorization_details)), [PAYMENT]);
    assert.deepEqual(audited[0]!.details.sca_amr, ['pwd', 'otp']);
    // So does the person's consent history, which outlives the used payment's grant.
    const { rows: ledger } = await t.db.query<{ authorization_details: unknown }>(
      `select authorization_details from consent_ledger where client_id = $1 and action = 'granted' order by id desc limit 1`,
      [dpopClient.clientId],
    );
    assert.deepEqual(ledger[0]!.authorization_details, [PAYMENT]);

    // An ordinary sign-in of the same app in the same browser does not join the payment's grant: it gets a consent
    // of its own, with the ordinary lifetime.
    const plain = await authorizationParameters({ scope: 'openid' });
    const plainUrl = await oidc.buildAuthorizationUrlWithPAR(config, plain.params, { DPoP: dpop });
    const { res: plainConsent } = await browser.follow(plainUrl);
    const plainPage = await plainConsent.text();
    assert.match(plainPage, /Open banking app wants to access your account/);
    assert.doesNotMatch(plainPage, /Pay €/);
    const { external: plainCallback } = await browser.submit(formAction(plainPage, 'consent'), plainPage, {});
    const plainTokens = await oidc.authorizationCodeGrant(
      config,
      plainCallback!,
      { pkceCodeVerifier: plain.verifier, idTokenExpected: true },
      undefined,
      { DPoP: dpop },
    );
    const { rows: grants } = await t.db.query<{ rar: unknown; expires: Date }>(
      `select g.payload->'rar' as rar, g.expires_at as expires from oidc_models g
       where g.model = 'Grant' and g.id = (select grant_id from oidc_models where model = 'AccessToken' and id = $1)`,
      [await storedRowId(t.db, 'AccessToken', plainTokens.access_token)],
    );
    assert.equal(grants[0]!.rar, null);
    assert.ok(grants[0]!.expires.getTime() > Date.now() + 86_400_000);

    // The payment is not authorised again by the same consent: a new request asks for SCA and consent afresh.
    const second = await authorizationParameters({
      scope: 'openid payments',
      resource: PAYMENTS,
      authorization_details: JSON.stringify([PAYMENT]),
    });
    const secondUrl = await oidc.buildAuthorizationUrlWithPAR(config, second.params, { DPoP: dpop });
    const { res: again } = await browser.follow(secondUrl);
    assert.match(
      await again.text(),
      /name="password"/,
      'the same browser session must authenticate again for a new payment',
    );
  });
});

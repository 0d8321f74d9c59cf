import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import * as oidc from 'openid-client';
import { Browser, formAction } from '../support/browser.ts';
import { registerClient } from '../support/clients.ts';
import type { TestDatabase } from '../support/database.ts';
import {
  assertionFields,
  authoriseInBrowser,
  authorizationParameters,
  clientAssertion,
  inDays,
  PAYMENT,
  PAYMENTS,
  registerFapiClient,
  type FapiClient,
  PAYMENTS_API,
} from '../support/fapi.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import { startTestKluis, type TestKluis } from '../support/kluis.ts';
import { addPerson, totpCode } from '../support/people.ts';
import { REDIRECT, signIn } from '../support/rp.ts';
import { storedRowId } from '../support/rows.ts';

// The negative cases an auditor sends a FAPI 2.0 deployment (shared/security-checklist.md A4-A9, T8, C1-C3, M9),
// each as the bad request over HTTP and the error it must get.
const PASSWORD = 'correct horse battery staple';
let t: TestDatabase;
let kluis: TestKluis;
let fapi: FapiClient;
let other: FapiClient;
let machine: FapiClient;
let signing: FapiClient;
let house: KluisFixture<never, never>;

before(async () => {
  house = await withKluis({
    resourceServers: [PAYMENTS_API],
  });
  ({ database: t, kluis } = house);
  fapi = await registerFapiClient(t.url, {
    authorization_details_types: ['payment_initiation', 'account_information'],
  });
  other = await registerFapiClient(t.url, { client_name: 'Another app' });
  machine = await registerFapiClient(t.url, {
    client_name: 'Machine',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'payments',
  });
  signing = await registerFapiClient(t.url, {
    client_name: 'Message-signing app',
    require_signed_request_object: true,
  });
});
after(() => house?.stop());

const form = (fields: Record<string, string>) => new URLSearchParams(fields);

async function post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${kluis.issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: form(fields),
  });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: res.status, body, headers: res.headers };
}

async function par(
  client: FapiClient,
  params: Record<string, string>,
  claims: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  return post('/request', { ...params, ...(await assertionFields(client, kluis.issuer, claims)) }, headers);
}

/** A DPoP key and proofs signed with it (RFC 9449 4.2); each claim may be overridden. */
async function dpopKey() {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk: JWK = await exportJWK(publicKey);
  return {
    jwk,
    privateKey,
    thumbprint: await calculateJwkThumbprint(jwk),
    proof: (claims: Record<string, unknown> = {}, alg = 'ES256', key: CryptoKey | Uint8Array = privateKey) =>
      new SignJWT({
        htm: 'POST',
        htu: `${kluis.issuer}/token`,
        iat: Math.floor(Date.now() / 1000),
        jti: randomUUID(),
        ...claims,
      })
        .setProtectedHeader({ typ: 'dpop+jwt', alg, jwk })
        .sign(key),
  };
}

/** The server's current DPoP nonce, from the use_dpop_nonce answer to a proof without one. */
async function dpopNonce(): Promise<string> {
  const key = await dpopKey();
  const { status, body, headers } = await post(
    '/token',
    { grant_type: 'client_credentials', ...(await assertionFields(machine, kluis.issuer)) },
    { dpop: await key.proof() },
  );
  assert.equal(status, 400);
  assert.equal(body.error, 'use_dpop_nonce');
  return headers.get('dpop-nonce')!;
}

async function machineToken(headers: Record<string, string>, claims: Record<string, unknown> = {}) {
  return post(
    '/token',
    { grant_type: 'client_credentials', ...(await assertionFields(machine, kluis.issuer, claims)) },
    headers,
  );
}

/** Signs in `username` through a pushed request and returns the callback URL with the code. */
async function codeFor(requestUri: string, client: FapiClient, username: string, secret: string): Promise<URL> {
  const url = `/auth?client_id=${client.clientId}&request_uri=${encodeURIComponent(requestUri)}`;
  return (await authoriseInBrowser(new Browser(kluis.issuer), url, username, PASSWORD, secret)).callback;
}

describe('A: authorization endpoint and PAR', () => {
  test("A4: a FAPI client's plain authorization request without request_uri is refused with invalid_request", async () => {
    const { params } = await authorizationParameters();
    const res = await fetch(`${kluis.issuer}/auth?${form({ ...params, client_id: fapi.clientId })}`, {
      redirect: 'manual',
    });
    const location = res.headers.get('location');
    const error = location
      ? new URL(location).searchParams.get('error')
      : /invalid_request/.exec(await res.text())?.[0];
    assert.equal(error, 'invalid_request');
  });

  test('A5: PAR without client authentication, or with a forged assertion, is 401 invalid_client', async () => {
    const { params } = await authorizationParameters();
    const anonymous = await post('/request', { ...params, client_id: fapi.clientId });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error, 'invalid_client');
    const forged = await post('/request', {
      ...params,
      ...(await assertionFields({ ...fapi, privateKey: other.privateKey }, kluis.issuer)),
    });
    assert.equal(forged.status, 401);
    assert.equal(forged.body.error, 'invalid_client');
  });

  test('A6: a request_uri lives at most 60 s, is bound to its client and is single-use', async () => {
    const person = await addPerson(t.url, 'a6', PASSWORD, { totp: true });
    const { params } = await authorizationParameters();
    const pushed = await par(fapi, params);
    assert.equal(pushed.status, 201);
    assert.ok(Number(pushed.body.expires_in) <= 60);
    const requestUri = String(pushed.body.request_uri);

    const foreign = await fetch(
      `${kluis.issuer}/auth?client_id=${other.clientId}&request_uri=${encodeURIComponent(requestUri)}`,
      { redirect: 'manual' },
    );
    assert.match(
      `${foreign.headers.get('location') ?? ''} ${foreign.status === 400 ? await foreign.text() : ''}`,
      /invalid_request_uri|invalid_request/,
    );

    await codeFor(requestUri, fapi, 'a6', person.secret!);
    const expiring = await par(fapi, params);
    await t.db.query(
      `update oidc_models set expires_at = now() - interval '1 second' where model = 'PushedAuthorizationRequest' and id = $1`,
      [await storedRowId(t.db, 'PushedAuthorizationRequest', String(expiring.body.request_uri).split(':').pop()!)],
    );
    const expired = await fetch(
      `${kluis.issuer}/auth?client_id=${fapi.clientId}&request_uri=${encodeURIComponent(String(expiring.body.request_uri))}`,
      { redirect: 'manual' },
    );
    assert.match(
      `${expired.headers.get('location') ?? ''} ${expired.status === 400 ? await expired.text() : ''}`,
      /invalid_request_uri/,
      'expired',
    );
    const reused = await fetch(
      `${kluis.issuer}/auth?client_id=${fapi.clientId}&request_uri=${encodeURIComponent(requestUri)}`,
      { redirect: 'manual' },
    );
    assert.match(
      `${reused.headers.get('location') ?? ''} ${reused.status === 400 ? await reused.text() : ''}`,
      /invalid_request_uri/,
    );
  });

  test('A6: a request_uri opens one interaction: sent again, or ten times at once, before any code is issued', async () => {
    const { params } = await authorizationParameters();
    const query = (requestUri: string) => form({ client_id: fapi.clientId, request_uri: requestUri });
    const opened = (res: Response) => res.status === 303 && /^\/interaction\//.test(res.headers.get('location') ?? '');
    const refused = async (res: Response) => res.status === 400 && /invalid_request_uri/.test(await res.text());

    const once = String((await par(fapi, params)).body.request_uri);
    assert.ok(
      opened(await fetch(`${kluis.issuer}/auth?${query(once)}`, { redirect: 'manual' })),
      'the first use opens the sign-in',
    );
    assert.ok(await refused(await fetch(`${kluis.issuer}/auth?${query(once)}`, { redirect: 'manual' })), 'used again');

    const parallel = String((await par(fapi, params)).body.request_uri);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => fetch(`${kluis.issuer}/auth?${query(parallel)}`, { redirect: 'manual' })),
    );
    assert.equal(answers.filter(opened).length, 1, `statuses ${answers.map((res) => res.status).join(',')}`);
    for (const res of answers.filter((answer) => !opened(answer))) assert.ok(await refused(res));
  });

  test('A6: a request_uri opens one interaction under every spelling of /auth and of the request_uri', async () => {
    const { params } = await authorizationParameters();
    const URN = 'urn:ietf:params:oauth:request_uri:';
    const opened = (res: Response) => res.status === 303 && /^\/interaction\//.test(res.headers.get('location') ?? '');
    const send = (path: string, requestUri: string, method = 'GET') =>
      fetch(`${kluis.issuer}${path}?${form({ client_id: fapi.clientId, request_uri: requestUri })}`, {
        method,
        redirect: 'manual',
      });
    // oidc-provider routes /auth/, /AUTH and HEAD to the authorization endpoint, and loads `split(URN)[1]` as the id.
    const spellings: [string, (requestUri: string) => Promise<Response>][] = [
      ['URN appended', (uri) => send('/auth', `${uri}${URN}`)],
      ['URN and more appended', (uri) => send('/auth', `${uri}${URN}x`)],
      ['/auth/', (uri) => send('/auth/', uri)],
      ['/AUTH', (uri) => send('/AUTH', uri)],
      ['/Auth/', (uri) => send('/Auth/', uri)],
      ['HEAD', (uri) => send('/auth', uri, 'HEAD')],
    ];
    for (const [name, spelled] of spellings) {
      const requestUri = String((await par(fapi, params)).body.request_uri);
      const answers = [await spelled(requestUri), await send('/auth', requestUri), await spelled(requestUri)];
      assert.equal(
        answers.filter(opened).length,
        1,
        `${name}: ${answers.map((res) => `${res.status} ${res.headers.get('location') ?? ''}`).join(' | ')}`,
      );
      for (const res of answers.filter((answer) => !opened(answer))) assert.equal(res.status, 400, name);
    }
  });

  test('A7: PAR without redirect_uri is refused although one is registered', async () => {
    const { params } = await authorizationParameters();
    const { redirect_uri: _omitted, ...rest } = params;
    const { status, body } = await par(fapi, rest);
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_request');
  });

  test('A8: PAR without code_challenge, with method plain, or with a malformed challenge is invalid_request', async () => {
    const { params } = await authorizationParameters();
    const { code_challenge: _c, code_challenge_method: _m, ...none } = params;
    for (const bad of [none, { ...params, code_challenge_method: 'plain' }, { ...params, code_challenge: 'short' }]) {
      const { status, body } = await par(fapi, bad);
      assert.equal(status, 400, JSON.stringify(bad));
      assert.equal(body.error, 'invalid_request');
    }
    const meta = (await (await fetch(`${kluis.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
  });

  test('A9: a code is redeemed only with its own verifier: a missing or wrong verifier is invalid_grant, a malformed one invalid_request', async () => {
    const person = await addPerson(t.url, 'a9', PASSWORD, { totp: true });
    const key = await dpopKey();
    const { verifier, params } = await authorizationParameters();
    const pushed = await par(fapi, params);
    const callback = await codeFor(String(pushed.body.request_uri), fapi, 'a9', person.secret!);
    const code = callback.searchParams.get('code')!;
    const nonce = await dpopNonce();
    const redeem = async (extra: Record<string, string>) =>
      post(
        '/token',
        {
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT,
          ...extra,
          ...(await assertionFields(fapi, kluis.issuer)),
        },
        { dpop: await key.proof({ nonce }) },
      );
    for (const bad of [{}, { code_verifier: oidc.randomPKCECodeVerifier() }] as Record<string, string>[]) {
      const { status, body } = await redeem(bad);
      assert.equal(status, 400, JSON.stringify(bad));
      assert.equal(body.error, 'invalid_grant', JSON.stringify(body));
    }
    const short = await redeem({ code_verifier: 'too-short' });
    assert.equal(short.status, 400);
    assert.equal(short.body.error, 'invalid_request');
    assert.match(String(short.body.error_description), /code_verifier/);
    const { status } = await redeem({ code_verifier: verifier });
    assert.equal(status, 200);
  });
});

describe('T8: DPoP proofs', () => {
  test('a DPoP-bound client without a proof gets no token', async () => {
    const { status, body } = await machineToken({});
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_grant');
  });

  test('a proof without a server nonce is answered use_dpop_nonce with a fresh DPoP-Nonce', async () => {
    const nonce = await dpopNonce();
    assert.ok(nonce.length > 20);
  });

  test('a proof for another method or URL, a stale or future proof, or an unsigned or HMAC proof is invalid_dpop_proof', async () => {
    const key = await dpopKey();
    const nonce = await dpopNonce();
    const cases: [string, string | Promise<string>][] = [
      ['htm', key.proof({ nonce, htm: 'GET' })],
      ['htu', key.proof({ nonce, htu: `${kluis.issuer}/token/introspection` })],
      [
        'alg none',
        `${Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'none', jwk: key.jwk })).toString('base64url')}.${Buffer.from(JSON.stringify({ htm: 'POST', htu: `${kluis.issuer}/token`, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), nonce })).toString('base64url')}.`,
      ],
      ['HS256', key.proof({ nonce }, 'HS256', randomBytes(32))],
      ['not a JWT', 'garbage'],
    ];
    for (const [label, proof] of cases) {
      const { status, body } = await machineToken({ dpop: await proof });
      assert.equal(status, 400, label);
      assert.equal(body.error, 'invalid_dpop_proof', `${label}: ${JSON.stringify(body)}`);
    }
    // A proof signed minutes ago is refused even with a valid server nonce (Kluis holds iat to 60 s).
    for (const skew of [-120, 120]) {
      const stale = await machineToken({ dpop: await key.proof({ nonce, iat: Math.floor(Date.now() / 1000) + skew }) });
      assert.equal(stale.status, 400, `iat ${skew} s`);
      assert.equal(stale.body.error, 'invalid_dpop_proof');
      assert.match(String(stale.body.error_description), /iat/);
    }
    const fresh = await machineToken({ dpop: await key.proof({ nonce }) });
    assert.equal(fresh.status, 200, 'the same key and nonce with a fresh proof');
  });

  test('a proof is accepted once: its replay is refused, also by another process with the same issuer and database', async () => {
    const key = await dpopKey();
    const nonce = await dpopNonce();
    const proof = await key.proof({ nonce });
    const first = await machineToken({ dpop: proof });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.token_type, 'DPoP');
    // A second process serving the same issuer: it accepts the first one's nonce (shared secret) and knows the
    // proof's jti (shared replay rows in Postgres).
    const second = await startTestKluis(t.url, { ISSUER: kluis.issuer });
    try {
      const tokenAt = async (base: string, dpop: string) =>
        fetch(`${base}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', dpop },
          body: form({ grant_type: 'client_credentials', ...(await assertionFields(machine, kluis.issuer)) }),
        });
      const replay = await tokenAt(second.url, proof);
      assert.equal(replay.status, 400);
      assert.match(String(((await replay.json()) as { error: string }).error), /invalid_dpop_proof|invalid_grant/);
      // The refusal was the replay, not the nonce or the URL: a fresh proof with the same nonce is accepted there.
      const fresh = await tokenAt(second.url, await key.proof({ nonce }));
      assert.equal(fresh.status, 200, JSON.stringify(await fresh.clone().json()));
    } finally {
      await second.stop();
    }
  });

  test('a code bound to one DPoP key by dpop_jkt cannot be redeemed with another key', async () => {
    const person = await addPerson(t.url, 't8', PASSWORD, { totp: true });
    const bound = await dpopKey();
    const thief = await dpopKey();
    const { verifier, params } = await authorizationParameters({ dpop_jkt: bound.thumbprint });
    const pushed = await par(fapi, params);
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    const callback = await codeFor(String(pushed.body.request_uri), fapi, 't8', person.secret!);
    const nonce = await dpopNonce();
    const { status, body } = await post(
      '/token',
      {
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
        ...(await assertionFields(fapi, kluis.issuer)),
      },
      { dpop: await thief.proof({ nonce }) },
    );
    assert.equal(status, 400);
    assert.match(String(body.error), /invalid_grant|invalid_dpop_proof/);
  });
});

describe('C: client authentication of FAPI clients', () => {
  test('C1: a FAPI client cannot be registered with a client secret or without sender-constrained tokens', async () => {
    await assert.rejects(
      registerClient(t.url, {
        fapi_profile: '2.0',
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'client_secret_basic',
        dpop_bound_access_tokens: true,
      }),
      /private_key_jwt/,
    );
    await assert.rejects(
      registerClient(t.url, {
        fapi_profile: '2.0',
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'none',
        dpop_bound_access_tokens: true,
      }),
      /private_key_jwt/,
    );
    await assert.rejects(
      registerClient(t.url, {
        fapi_profile: '2.0',
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [] },
      }),
      /sender-constrain/,
    );
    await assert.rejects(
      registerClient(t.url, { fapi_profile: '1.0', redirect_uris: [REDIRECT] }),
      /fapi_profile must be "2.0"/,
    );
    assert.equal(fapi.client.require_pushed_authorization_requests, true, 'PAR is required for every FAPI client');
  });

  test('C1: a FAPI client presenting a client secret, in a header or the body, is invalid_client', async () => {
    const basic = await post(
      '/token',
      { grant_type: 'client_credentials' },
      { authorization: `Basic ${Buffer.from(`${machine.clientId}:guess`).toString('base64')}` },
    );
    assert.equal(basic.status, 401);
    assert.equal(basic.body.error, 'invalid_client');
    const body = await post('/token', {
      grant_type: 'client_credentials',
      client_id: machine.clientId,
      client_secret: 'guess',
    });
    assert.equal(body.status, 401);
    assert.equal(body.body.error, 'invalid_client');
  });

  test('C2: a client assertion whose aud is the token endpoint rather than the issuer is invalid_client', async () => {
    const nonce = await dpopNonce();
    const key = await dpopKey();
    const { status, body } = await machineToken({ dpop: await key.proof({ nonce }) }, { aud: `${kluis.issuer}/token` });
    assert.equal(status, 401);
    assert.equal(body.error, 'invalid_client');
  });

  test('C3: replayed, unsigned, HMAC, RS256, expired, future and foreign assertions are invalid_client', async () => {
    const nonce = await dpopNonce();
    const key = await dpopKey();
    const now = Math.floor(Date.now() / 1000);
    // client_id is left out, as RFC 7523 allows: the client is named by the assertion's sub alone.
    const withAssertion = async (assertion: string) =>
      post(
        '/token',
        {
          grant_type: 'client_credentials',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        },
        { dpop: await key.proof({ nonce }) },
      );

    const once = await clientAssertion(machine, kluis.issuer);
    assert.equal((await withAssertion(once)).status, 200);
    const { privateKey: rsaKey } = await generateKeyPair('RS256', { extractable: true });
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: machine.clientId, sub: machine.clientId, aud: kluis.issuer, jti: randomUUID(), exp: now + 60 })).toString('base64url')}.`;
    const cases: [string, string | Promise<string>][] = [
      ['replayed jti', once],
      ['alg none', unsigned],
      ['HS256', clientAssertion(machine, kluis.issuer, {}, 'HS256', randomBytes(32))],
      ['RS256', clientAssertion(machine, kluis.issuer, {}, 'RS256', rsaKey)],
      ['expired', clientAssertion(machine, kluis.issuer, { iat: now - 600, exp: now - 300 })],
      ['issued in the future', clientAssertion(machine, kluis.issuer, { iat: now + 600, exp: now + 660 })],
      ['valid only in the future', clientAssertion(machine, kluis.issuer, { nbf: now + 600, exp: now + 660 })],
      ['sub is another client', clientAssertion(machine, kluis.issuer, { sub: other.clientId })],
      ['iss is another client', clientAssertion(machine, kluis.issuer, { iss: other.clientId })],
      ["signed by another client's key", clientAssertion({ ...machine, privateKey: other.privateKey }, kluis.issuer)],
    ];
    for (const [label, assertion] of cases) {
      const { status, body } = await withAssertion(await assertion);
      assert.equal(status, 401, `${label}: ${JSON.stringify(body)}`);
      assert.equal(body.error, 'invalid_client', label);
    }
  });
});

describe('M9: payment details', () => {
  test('invalid payment or account details are refused at PAR with invalid_authorization_details', async () => {
    const cases: [string, unknown][] = [
      ['IBAN check digits', { ...PAYMENT, creditorAccount: { iban: 'NL91ABNA0417164301' } }],
      ['negative amount', { ...PAYMENT, instructedAmount: { currency: 'EUR', amount: '-5.00' } }],
      ['amount as a number', { ...PAYMENT, instructedAmount: { currency: 'EUR', amount: 50 } }],
      ['unknown currency', { ...PAYMENT, instructedAmount: { currency: 'XYZ', amount: '5.00' } }],
      ['decimals the currency does not have', { ...PAYMENT, instructedAmount: { currency: 'JPY', amount: '50.50' } }],
      ['unknown field', { ...PAYMENT, debtorAccount: { iban: 'DE89370400440532013000' } }],
      ['missing creditor', { ...PAYMENT, creditorName: undefined }],
      ['control characters in the name', { ...PAYMENT, creditorName: 'Acme\u202eBV' }],
      [
        'account access beyond 180 days',
        {
          type: 'account_information',
          accounts: [{ iban: 'DE89370400440532013000' }],
          access: ['balances'],
          expiresAt: inDays(200),
        },
      ],
      [
        'account access without access',
        {
          type: 'account_information',
          accounts: [{ iban: 'DE89370400440532013000' }],
          access: [],
          expiresAt: inDays(30),
        },
      ],
      ['unknown type', { type: 'crypto_transfer' }],
    ];
    for (const [label, detail] of cases) {
      const { params } = await authorizationParameters({
        resource: PAYMENTS,
        authorization_details: JSON.stringify([detail]),
      });
      const { status, body } = await par(fapi, params);
      assert.equal(status, 400, label);
      assert.equal(body.error, 'invalid_authorization_details', `${label}: ${JSON.stringify(body)}`);
    }
    const two = await authorizationParameters({
      resource: PAYMENTS,
      authorization_details: JSON.stringify([PAYMENT, PAYMENT]),
    });
    assert.equal((await par(fapi, two.params)).body.error, 'invalid_authorization_details', 'two payments at once');
  });

  test('hostile authorization_details (not JSON, not objects, deeply nested, huge, impossible dates) are 400s, never 5xx', async () => {
    let nested: unknown = PAYMENT;
    for (let i = 0; i < 200; i += 1) nested = { type: 'payment_initiation', inner: nested };
    const hostile = [
      '{not json',
      'null',
      '42',
      '[null]',
      '["payment_initiation"]',
      JSON.stringify([nested]),
      JSON.stringify([{ ...PAYMENT, creditorName: 'A'.repeat(20_000) }]),
      JSON.stringify([{ ...PAYMENT, instructedAmount: { currency: 'EUR', amount: '1e3' } }]),
      JSON.stringify([
        {
          type: 'account_information',
          accounts: [{ iban: 'DE89370400440532013000' }],
          access: ['balances'],
          expiresAt: '2026-02-30',
        },
      ]),
      JSON.stringify([PAYMENT]).replace('{"type"', '{"__proto__":{"polluted":true},"type"'),
    ];
    for (const details of hostile) {
      const { params } = await authorizationParameters({ resource: PAYMENTS, authorization_details: details });
      const { status, body } = await par(fapi, params);
      assert.ok(status === 400 || status === 413, `${details.slice(0, 60)}: ${status}`);
      assert.match(
        String(body.error ?? 'invalid_request'),
        /invalid_authorization_details|invalid_request/,
        details.slice(0, 60),
      );
    }
  });

  test('payments are for FAPI clients only: a general client can neither register for them nor ask for them', async () => {
    await assert.rejects(
      registerClient(t.url, { redirect_uris: [REDIRECT], authorization_details_types: ['payment_initiation'] }),
      /authorization_details_types .* are for FAPI 2\.0 clients/,
    );
    const web = await registerClient(t.url, { redirect_uris: [REDIRECT] });
    const { params } = await authorizationParameters({
      resource: PAYMENTS,
      authorization_details: JSON.stringify([PAYMENT]),
    });
    const res = await fetch(`${kluis.issuer}/auth?${form({ ...params, client_id: String(web.client_id) })}`, {
      redirect: 'manual',
    });
    const location = new URL(res.headers.get('location')!);
    assert.equal(location.searchParams.get('error'), 'invalid_authorization_details');
    assert.equal(location.searchParams.get('iss'), kluis.issuer);
  });

  test('details added at the authorization endpoint do not change the pushed payment; a changed amount at the token endpoint is refused and spends the code', async () => {
    const person = await addPerson(t.url, 'm9', PASSWORD, { totp: true });
    const key = await dpopKey();
    const { verifier, params } = await authorizationParameters({
      resource: PAYMENTS,
      authorization_details: JSON.stringify([PAYMENT]),
    });
    const pushed = await par(fapi, params);
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    const tampered = { ...PAYMENT, instructedAmount: { currency: 'EUR', amount: '5000.00' } };
    const browser = new Browser(kluis.issuer);
    const { res: login } = await browser.follow(
      `/auth?client_id=${fapi.clientId}&request_uri=${encodeURIComponent(String(pushed.body.request_uri))}&authorization_details=${encodeURIComponent(JSON.stringify([tampered]))}`,
    );
    const loginPage = await login.text();
    // Parameters outside the pushed request are ignored (RFC 9126 4): the person sees the pushed payment.
    assert.equal(login.status, 200);
    assert.match(loginPage, /Pay €50\.00 to Acme BV/);
    assert.doesNotMatch(loginPage, /5,000/);
    const { res: consent } = await signIn(browser, loginPage, 'm9', PASSWORD, await totpCode(person.secret!));
    const page = await consent.text();
    assert.doesNotMatch(page, /5,000/);
    const { external } = await browser.submit(formAction(page, 'consent'), page, {});
    const code = external!.searchParams.get('code')!;
    const nonce = await dpopNonce();
    const redeem = async (details?: unknown) =>
      post(
        '/token',
        {
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT,
          code_verifier: verifier,
          resource: PAYMENTS,
          ...(details ? { authorization_details: JSON.stringify(details) } : {}),
          ...(await assertionFields(fapi, kluis.issuer)),
        },
        { dpop: await key.proof({ nonce }) },
      );
    const changed = await redeem([tampered]);
    assert.equal(changed.status, 400);
    assert.equal(changed.body.error, 'invalid_authorization_details');
    // The attempt spent the code: the payment needs a new authorization, with the person's SCA.
    const after = await redeem([PAYMENT]);
    assert.equal(after.status, 400);
    assert.equal(after.body.error, 'invalid_grant');
  });
});

describe('A14: JAR and JARM (FAPI 2.0 message signing)', () => {
  /** A request object (RFC 9101) signed by `client` carrying `params`; claims may be overridden. */
  async function requestObject(
    client: FapiClient,
    params: Record<string, string>,
    claims: Record<string, unknown> = {},
    alg = 'ES256',
    key: CryptoKey | Uint8Array = client.privateKey,
  ) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      ...params,
      client_id: client.clientId,
      iss: client.clientId,
      aud: kluis.issuer,
      iat: now,
      nbf: now,
      exp: now + 300,
      jti: randomUUID(),
      ...claims,
    })
      .setProtectedHeader({ alg, kid: client.kid, typ: 'oauth-authz-req+jwt' })
      .sign(key);
  }

  test('a client that must sign its requests is refused a plain pushed request', async () => {
    const { params } = await authorizationParameters();
    const { status, body } = await par(signing, params);
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_request');
  });

  test('unsigned, HMAC, RS256, wrong-audience and over-long request objects are refused', async () => {
    const { params } = await authorizationParameters();
    const now = Math.floor(Date.now() / 1000);
    const { privateKey: rsaKey } = await generateKeyPair('RS256', { extractable: true });
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ ...params, client_id: signing.clientId, iss: signing.clientId, aud: kluis.issuer, exp: now + 60, nbf: now })).toString('base64url')}.`;
    const cases: [string, string | Promise<string>][] = [
      ['alg none', unsigned],
      ['HS256', requestObject(signing, params, {}, 'HS256', randomBytes(32))],
      ['RS256', requestObject(signing, params, {}, 'RS256', rsaKey)],
      ['aud is not the issuer', requestObject(signing, params, { aud: `${kluis.issuer}/request` })],
      ['exp more than 60 minutes after nbf', requestObject(signing, params, { nbf: now, exp: now + 3700 })],
      ['no exp', requestObject(signing, params, { exp: undefined })],
    ];
    for (const [label, object] of cases) {
      const { status, body } = await post('/request', {
        request: await object,
        ...(await assertionFields(signing, kluis.issuer)),
      });
      assert.equal(status, 400, `${label}: ${JSON.stringify(body)}`);
      assert.match(String(body.error), /invalid_request_object|invalid_request/, label);
    }
  });

  test('a signed request object inside PAR with response_mode=jwt completes with a signed authorization response', async () => {
    const person = await addPerson(t.url, 'jarm', PASSWORD, { totp: true });
    const { params } = await authorizationParameters({ response_mode: 'jwt', state: 'af0ifjsldkj' });
    const pushed = await post('/request', {
      request: await requestObject(signing, params),
      ...(await assertionFields(signing, kluis.issuer)),
    });
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    const callback = await codeFor(String(pushed.body.request_uri), signing, 'jarm', person.secret!);
    assert.equal(callback.searchParams.get('code'), null, 'the code travels only inside the signed response');
    const { payload, protectedHeader } = await jwtVerify(
      callback.searchParams.get('response')!,
      createRemoteJWKSet(new URL(`${kluis.issuer}/jwks`)),
      {
        issuer: kluis.issuer,
        audience: signing.clientId,
      },
    );
    assert.equal(protectedHeader.alg, 'ES256');
    assert.ok(typeof payload.code === 'string' && payload.code.length >= 43);
    assert.equal(payload.state, 'af0ifjsldkj');
  });
});

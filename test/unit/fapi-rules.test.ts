import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UnsecuredJWT } from 'jose';
import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { clientAssertionPolicy } from '../../src/oidc/fapi/client-assertions.ts';
import { DPOP_MAX_AGE, dpopFreshness } from '../../src/oidc/fapi/dpop-freshness.ts';
import { mtlsFeature } from '../../src/oidc/fapi/mtls.ts';
import { checkFapiMetadata, fapiFeatures, rotateRefreshToken } from '../../src/oidc/fapi/profile.ts';

// FAPI 2.0 Security Profile rules as Kluis applies them, without a provider: client metadata, features, client
// assertions, DPoP proof freshness and the mTLS certificate header.
const ISSUER = 'https://kluis.example';
const fapiClient = (changes: Record<string, unknown> = {}): Record<string, unknown> => ({
  fapi_profile: '2.0',
  redirect_uris: ['https://bank-app.example/cb'],
  token_endpoint_auth_method: 'private_key_jwt',
  dpop_bound_access_tokens: true,
  ...changes,
});

/** An oidc-provider client-metadata error whose description matches `pattern`. */
const refused =
  (pattern: RegExp, error = 'invalid_client_metadata') =>
  (err: unknown) => {
    const { error: code, error_description: description } = err as { error?: string; error_description?: string };
    return code === error && pattern.test(description ?? '');
  };

describe('FAPI 2.0 client metadata', () => {
  test('a client without fapi_profile is left as it is', () => {
    const metadata = { redirect_uris: ['https://shop.example/cb'], token_endpoint_auth_method: 'client_secret_basic' };
    checkFapiMetadata(metadata);
    assert.equal('require_pushed_authorization_requests' in metadata, false);
  });

  test('a FAPI 2.0 client is made to push its authorization requests, whatever its metadata said (SP 5.3.2.2)', () => {
    const metadata = fapiClient({ require_pushed_authorization_requests: false });
    checkFapiMetadata(metadata);
    assert.equal(metadata.require_pushed_authorization_requests, true);
  });

  test('a profile other than "2.0" is refused', () => {
    assert.throws(() => checkFapiMetadata(fapiClient({ fapi_profile: '1.0' })), refused(/fapi_profile must be "2\.0"/));
    assert.throws(() => checkFapiMetadata(fapiClient({ fapi_profile: 2 })), refused(/fapi_profile must be "2\.0"/));
  });

  test('a FAPI client authenticates with private_key_jwt or self-signed mutual TLS only (SP 5.3.2.1)', () => {
    checkFapiMetadata(fapiClient({ token_endpoint_auth_method: 'self_signed_tls_client_auth' }));
    for (const method of ['client_secret_basic', 'client_secret_jwt', 'none', 'tls_client_auth', undefined]) {
      const metadata = fapiClient({ token_endpoint_auth_method: method });
      assert.throws(() => checkFapiMetadata(metadata), refused(/authenticate with private_key_jwt or/), String(method));
    }
  });

  test('a FAPI client whose tokens are not sender-constrained (DPoP or certificate) is refused', () => {
    const certificateBound = { dpop_bound_access_tokens: false, tls_client_certificate_bound_access_tokens: true };
    checkFapiMetadata(fapiClient(certificateBound));
    const bearer = fapiClient({ dpop_bound_access_tokens: false });
    assert.throws(() => checkFapiMetadata(bearer), refused(/must sender-constrain their tokens/));
  });
});

describe('FAPI 2.0 features', () => {
  const features = fapiFeatures(Buffer.alloc(32, 1));
  const profile = features.fapi!.profile as (ctx: unknown, client: unknown) => string | undefined;
  const refreshing = (client: unknown) => ({ oidc: { client } }) as unknown as KoaContextWithOIDC;

  test("oidc-provider's FAPI 2.0 checks apply to FAPI clients only", () => {
    assert.equal(profile(undefined, { fapi_profile: '2.0' }), '2.0');
    assert.equal(profile(undefined, { redirect_uris: ['https://shop.example/cb'] }), undefined);
    assert.equal(profile(undefined, undefined), undefined);
  });

  test('every DPoP proof needs a server nonce and is used once (RFC 9449 8)', () => {
    const dpop = features.dPoP as { requireNonce: () => boolean; allowReplay: boolean };
    assert.equal(dpop.requireNonce(), true);
    assert.equal(dpop.allowReplay, false);
  });

  test("a FAPI client's refresh token is kept; every other client's is rotated at each use (SP 5.3.2.1)", () => {
    assert.equal(rotateRefreshToken(refreshing({ fapi_profile: '2.0' })), false);
    assert.equal(rotateRefreshToken(refreshing({ client_id: 'shop' })), true);
  });
});

describe('client assertions', () => {
  const policy = clientAssertionPolicy(15);
  const now = () => Math.floor(Date.now() / 1000);
  const request = (fapi: boolean): KoaContextWithOIDC =>
    ({ oidc: { issuer: ISSUER, isFapi: (version: string) => fapi && version === '2.0' } }) as never;
  // oidc-provider answers only "client authentication failed" and keeps the reason in error_detail, for its logs.
  const badAuth = (pattern: RegExp) => (err: unknown) => {
    const { error, error_detail: detail } = err as { error?: string; error_detail?: string };
    return error === 'invalid_client' && pattern.test(detail ?? '');
  };

  test("a FAPI client's assertion is addressed to the issuer itself, not an endpoint (SP 5.3.2.1)", async () => {
    await policy(request(true), { aud: ISSUER, iat: now() });
    const toEndpoint = { aud: `${ISSUER}/token`, iat: now() };
    await assert.rejects(policy(request(true), toEndpoint), badAuth(/aud\) must equal the issuer identifier/));
    await policy(request(false), toEndpoint);
  });

  test('an assertion issued or valid in the future, beyond the clock tolerance, is refused', async () => {
    await policy(request(false), { aud: ISSUER, iat: now() + 10, nbf: now() + 10 });
    const later = now() + 60;
    await assert.rejects(policy(request(false), { aud: ISSUER, iat: later }), badAuth(/iat must not be in the future/));
    await assert.rejects(policy(request(false), { aud: ISSUER, nbf: later }), badAuth(/nbf must not be in the future/));
    await assert.rejects(policy(request(false), { aud: ISSUER, iat: String(now()) }), badAuth(/iat must not be/));
  });
});

describe('DPoP proof freshness', () => {
  const check = dpopFreshness(5);
  /** Runs the middleware on a request with these headers; says whether it let the request through. */
  async function answer(headers: Record<string, string>) {
    const set: Record<string, string> = {};
    const ctx = {
      status: 404,
      body: undefined as unknown,
      get: (name: string) => headers[name.toLowerCase()] ?? '',
      set: (name: string, value: string) => (set[name] = value),
    };
    let passed = false;
    await check(ctx as unknown as Context, async () => {
      passed = true;
    });
    return { passed, status: ctx.status, body: ctx.body, set };
  }
  const proof = (iat: number) => new UnsecuredJWT({ htm: 'POST' }).setIssuedAt(iat).encode();
  const now = () => Math.floor(Date.now() / 1000);

  test('a request without a proof, or with a recent one, goes on to oidc-provider', async () => {
    assert.equal((await answer({})).passed, true);
    assert.equal((await answer({ dpop: proof(now()) })).passed, true);
    assert.equal((await answer({ dpop: proof(now() - DPOP_MAX_AGE) })).passed, true);
  });

  test('a proof that cannot be decoded is left for oidc-provider to refuse', async () => {
    assert.equal((await answer({ dpop: 'not a jwt' })).passed, true);
  });

  test('a proof signed long ago is refused at the token endpoint with invalid_dpop_proof', async () => {
    const old = await answer({ dpop: proof(now() - DPOP_MAX_AGE - 60) });
    assert.equal(old.passed, false);
    assert.equal(old.status, 400);
    const description = 'DPoP proof iat is not recent enough';
    assert.deepEqual(old.body, { error: 'invalid_dpop_proof', error_description: description });
    assert.equal(old.set['Cache-Control'], 'no-store');
    assert.equal((await answer({ dpop: proof(now() + DPOP_MAX_AGE + 60) })).status, 400, 'or dated in the future');
  });

  test('at a protected resource a stale proof gets a DPoP challenge (RFC 9449 7.1)', async () => {
    const stale = await answer({ dpop: proof(now() - 3600), authorization: 'DPoP some-token' });
    assert.equal(stale.passed, false);
    assert.equal(stale.status, 401);
    assert.match(stale.set['WWW-Authenticate']!, /^DPoP error="invalid_dpop_proof"/);
  });
});

describe('mutual TLS behind a proxy', () => {
  // A self-signed P-256 certificate, as the proxy passes it: URL-encoded PEM (nginx's $ssl_client_escaped_cert).
  const PEM = `-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUOlN4cID+cyTPhDBR7blzGH1ywogwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQb3Blbi1iYW5raW5nLWFwcDAgFw0yNjEyMDIwMTI0MTRaGA8y
MTI2MTEwODAxMjQxNFowGzEZMBcGA1UEAwwQb3Blbi1iYW5raW5nLWFwcDBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABC4b7XDrPCiKWqoz15GTJfouyIe0Zg2Ott45
f+1AXr9m2q++hPkGiSkc+PsWz2plP7ntBlAUEobByC7nFO6MX2+jUzBRMB0GA1Ud
DgQWBBTNnn7qQ42+ZT1An9YktIso+IYnRzAfBgNVHSMEGDAWgBTNnn7qQ42+ZT1A
n9YktIso+IYnRzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIDu/
Vri3vrQ4z5tIlvXn8X0WwKOtmjvW8W2eqTNgjBXrAiEAsX7GwGFzRs5sle9gVE2c
wSFN4/z85bcDapR91m4jMaU=
-----END CERTIFICATE-----
`;
  const HEADER = 'X-SSL-Client-Cert';
  const withHeader = (value: string) =>
    ({ get: (name: string) => (name === HEADER ? value : '') }) as KoaContextWithOIDC;

  test('without a configured certificate header mutual TLS is off', () => {
    assert.deepEqual(mtlsFeature(undefined), { mTLS: { enabled: false } });
  });

  test('self-signed client authentication and certificate-bound tokens only; no PKI tls_client_auth', () => {
    const { mTLS } = mtlsFeature(HEADER);
    assert.equal(mTLS!.enabled, true);
    assert.equal(mTLS!.selfSignedTlsClientAuth, true);
    assert.equal(mTLS!.certificateBoundAccessTokens, true);
    assert.equal(mTLS!.tlsClientAuth, false);
  });

  test("the client's certificate is read from the header; an absent or unparsable one is no certificate", () => {
    const getCertificate = mtlsFeature(HEADER).mTLS!.getCertificate!;
    const certificate = getCertificate(withHeader(encodeURIComponent(PEM)));
    assert.equal(typeof certificate === 'object' && certificate.subject, 'CN=open-banking-app');
    assert.equal(getCertificate(withHeader('')), undefined);
    assert.equal(getCertificate(withHeader('%E0%A4%A')), undefined, 'bad URL encoding');
    assert.equal(getCertificate(withHeader(encodeURIComponent('-----BEGIN CERTIFICATE-----\nAAAA'))), undefined);
  });
});

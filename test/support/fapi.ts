import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import assert from 'node:assert/strict';
import { type Browser, formAction } from './browser.ts';
import { registerClient } from './clients.ts';
import { totpCode } from './people.ts';
import { REDIRECT, signIn } from './rp.ts';

/** The payments API of the tests, as a resource server for withKluis, and a payment to it in RFC 9396 form. */
export const PAYMENTS = 'https://api.bank.example/payments';
export const PAYMENTS_API = {
  identifier: PAYMENTS,
  scope: 'payments',
  accessTokenFormat: 'opaque',
  signingAlg: 'ES256',
  accessTokenTtl: 300,
  // No description: the catalogue's sentence then names the API in the page's language (an operator's text is in one).
  title: 'Payments API',
} as const;
export const PAYMENT = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'EUR', amount: '50.00' },
  creditorName: 'Acme BV',
  creditorAccount: { iban: 'NL91ABNA0417164300' },
  remittanceInformationUnstructured: 'Invoice 2026-114',
};

/** The date `days` from today, as account-information consents write their expiry. */
export const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

/** A FAPI 2.0 client: its registered metadata and the private key it signs client assertions with. */
export interface FapiClient {
  client: AdapterPayload;
  clientId: string;
  privateKey: CryptoKey;
  kid: string;
}

/** Registers a FAPI 2.0 client with private_key_jwt (ES256 key) and the given sender constraint. */
export async function registerFapiClient(
  databaseUrl: string,
  extra: Record<string, unknown> = {},
  env: Record<string, string> = {},
): Promise<FapiClient> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const client = await registerClient(
    databaseUrl,
    {
      client_name: 'Open banking app',
      fapi_profile: '2.0',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [jwk] },
      dpop_bound_access_tokens: true,
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid offline_access',
      ...extra,
    },
    env,
  );
  return { client, clientId: String(client.client_id), privateKey, kid };
}

/** openid-client configured for the FAPI client: private_key_jwt, optional extra headers on every request. */
export async function fapiConfiguration(
  issuer: string,
  fapi: FapiClient,
  headers: Record<string, string> = {},
): Promise<oidc.Configuration> {
  const config = await oidc.discovery(
    new URL(issuer),
    fapi.clientId,
    undefined,
    oidc.PrivateKeyJwt({ key: fapi.privateKey, kid: fapi.kid }),
    {
      execute: [oidc.allowInsecureRequests],
    },
  );
  if (Object.keys(headers).length) {
    config[oidc.customFetch] = (url, options) => {
      const merged = new Headers(options.headers as ConstructorParameters<typeof Headers>[0]);
      for (const [name, value] of Object.entries(headers)) merged.set(name, value);
      return fetch(url, { ...options, headers: merged } as RequestInit);
    };
  }
  return config;
}

/** A client assertion (RFC 7523) signed by the FAPI client, with claims that tests may override or remove. */
export async function clientAssertion(
  fapi: FapiClient,
  audience: string,
  claims: Record<string, unknown> = {},
  alg = 'ES256',
  key: CryptoKey | Uint8Array = fapi.privateKey,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: fapi.clientId,
    sub: fapi.clientId,
    aud: audience,
    jti: randomUUID(),
    iat: now,
    exp: now + 60,
    ...claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg, kid: fapi.kid }).sign(key);
}

/** Form fields of private_key_jwt authentication. */
export async function assertionFields(
  fapi: FapiClient,
  issuer: string,
  claims: Record<string, unknown> = {},
): Promise<Record<string, string>> {
  return {
    client_id: fapi.clientId,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: await clientAssertion(fapi, issuer, claims),
  };
}

/** A PKCE pair and the authorization parameters every FAPI request carries. */
export async function authorizationParameters(extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  return {
    verifier,
    params: {
      redirect_uri: REDIRECT,
      scope: 'openid',
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...extra,
    } as Record<string, string>,
  };
}

/**
 * Drives `browser` from an authorization URL through password, TOTP and consent (ticking `scopes`) to the client's
 * redirect; returns that callback and the consent page the person saw.
 */
export async function authoriseInBrowser(
  browser: Browser,
  url: string | URL,
  username: string,
  password: string,
  secret: string,
  scopes: string[] = [],
) {
  const { res: login } = await browser.follow(url);
  const { res: consent } = await signIn(browser, await login.text(), username, password, await totpCode(secret));
  const consentPage = await consent.text();
  const { external, res } = await browser.submit(formAction(consentPage, 'consent'), consentPage, { scope: scopes });
  assert.ok(
    external,
    `expected a redirect to the client, got ${browser.lastStatus}: ${external ? '' : (await res.text()).slice(0, 3000)}`,
  );
  return { callback: external, consentPage };
}

import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { type Browser, formAction } from './browser.ts';
import { registerClient } from './clients.ts';
import { RECOVERY_CODE, totpCode } from './people.ts';

export const REDIRECT = 'https://rp.example/cb';

export interface PendingRequest {
  url: URL;
  verifier: string;
  nonce: string;
  state: string;
}

/** A confidential web client driven with openid-client: builds PKCE requests and redeems codes. */
export class RelyingParty {
  readonly config: oidc.Configuration;
  readonly redirectUri: string;

  private constructor(config: oidc.Configuration, redirectUri: string) {
    this.config = config;
    this.redirectUri = redirectUri;
  }

  static async create(issuer: string, client: AdapterPayload, redirectUri = REDIRECT): Promise<RelyingParty> {
    return new RelyingParty(
      await oidc.discovery(
        new URL(issuer),
        String(client.client_id),
        undefined,
        oidc.ClientSecretBasic(String(client.client_secret)),
        {
          execute: [oidc.allowInsecureRequests],
        },
      ),
      redirectUri,
    );
  }

  async request(params: Record<string, string> = {}): Promise<PendingRequest> {
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(this.config, {
      redirect_uri: this.redirectUri,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
      ...params,
    });
    return { url, verifier, nonce, state };
  }

  redeem(callback: URL, request: PendingRequest) {
    return oidc.authorizationCodeGrant(this.config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedNonce: request.nonce,
      expectedState: request.state,
      idTokenExpected: true,
    });
  }
}

/** Submits the login page, then the second-factor page; returns where the browser ended up. */
export async function signIn(browser: Browser, loginPage: string, username: string, password: string, code: string) {
  const { res: mfa } = await browser.submit(formAction(loginPage, 'login'), loginPage, { username, password });
  const mfaPage = await mfa.text();
  return browser.submit(formAction(mfaPage, 'mfa'), mfaPage, { code });
}

/**
 * First sign-in of a person without an authenticator: password, then the activation code at the code page, then
 * enrolment with a code from the new secret. Returns the secret, the recovery codes and where to continue.
 */
export async function activate(
  browser: Browser,
  loginPage: string,
  username: string,
  password: string,
  activationCode: string,
) {
  const { res: enrol } = await signIn(browser, loginPage, username, password, activationCode);
  const enrolPage = await enrol.text();
  const secret = /id="totp-secret" class="secret">([A-Z2-7 ]+)</.exec(enrolPage)?.[1]?.replaceAll(' ', '');
  if (!secret) throw new Error(`no enrolment page after the activation code:\n${enrolPage.slice(0, 2000)}`);
  const { res: codesRes } = await browser.submit(formAction(enrolPage, 'enrol'), enrolPage, {
    code: await totpCode(secret),
  });
  const codesPage = await codesRes.text();
  const codes = [...codesPage.matchAll(RECOVERY_CODE)].map((m) => m[1]!);
  const continueTo = /<a href="([^"]+)" id="continue"/.exec(codesPage)?.[1];
  return { enrolPage, secret, codes, codesPage, continueTo };
}

/** Registers a web app (code + refresh token, profile and offline access) and returns it with its relying party. */
export async function registerWebApp(databaseUrl: string, issuer: string, name: string, redirect: string) {
  const client = await registerClient(databaseUrl, {
    client_name: name,
    redirect_uris: [redirect],
    grant_types: ['authorization_code', 'refresh_token'],
    scope: 'openid profile offline_access',
  });
  return { client, rp: await RelyingParty.create(issuer, client as AdapterPayload, redirect) };
}

import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { Browser, formAction } from './browser.ts';

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
      await oidc.discovery(new URL(issuer), String(client.client_id), undefined, oidc.ClientSecretBasic(String(client.client_secret)), {
        execute: [oidc.allowInsecureRequests],
      }),
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

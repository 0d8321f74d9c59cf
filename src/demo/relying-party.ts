import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import { pagesOf } from '../web/render.ts';
import type { DemoSetup } from './seed.ts';

/** How long a started demo sign-in may take before its PKCE verifier, state and nonce are forgotten. */
const PENDING_TTL_MS = 10 * 60 * 1000;
const MAX_PENDING = 1000;
const COOKIE = 'kluis_demo';
const PROMPTS = new Set(['login', 'consent']);

interface Pending {
  verifier: string;
  state: string;
  nonce: string;
  expires: number;
}

/**
 * Development only: a relying party living next to Kluis so a newcomer can watch the whole flow in a browser.
 * It talks to Kluis over HTTP exactly as an external app would (discovery, PKCE, state, nonce, client_secret_basic,
 * code exchange, ID token validation, userinfo), using openid-client. Pending sign-ins are kept in memory: the
 * demo runs in one process.
 */
export function demoRelyingParty(issuer: string, demo: DemoSetup): Router {
  const router = new Router({ prefix: '/demo' });
  const pending = new Map<string, Pending>();
  let discovered: Promise<oidc.Configuration> | undefined;

  const configuration = () => {
    discovered ??= oidc
      .discovery(new URL(issuer), demo.clientId, undefined, oidc.ClientSecretBasic(demo.clientSecret), {
        // The demo only runs with an http issuer (development); openid-client refuses http unless told.
        execute: issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
      })
      .catch((err: unknown) => {
        discovered = undefined;
        throw err;
      });
    return discovered;
  };

  const page = (ctx: Context, status: number, context: Record<string, unknown>) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = pagesOf(ctx).render(ctx, 'demo/demo', { username: demo.username, ...context });
  };

  router.get('/', (ctx) => page(ctx, 200, {}));

  router.get('/login', async (ctx) => {
    const now = Date.now();
    for (const [id, entry] of pending) if (entry.expires < now) pending.delete(id);
    if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value!);

    const id = randomBytes(16).toString('base64url');
    const entry: Pending = {
      verifier: oidc.randomPKCECodeVerifier(),
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      expires: now + PENDING_TTL_MS,
    };
    pending.set(id, entry);
    ctx.cookies.set(COOKIE, id, {
      httpOnly: true,
      sameSite: 'lax',
      path: '/demo',
      maxAge: PENDING_TTL_MS,
      overwrite: true,
      // A random id, only a key into this process's memory: as before, not signed, although oidc-provider's Koa app
      // that serves the demo has cookie keys (Koa signs by default then).
      signed: false,
    });

    const prompt: Record<string, string> =
      typeof ctx.query.prompt === 'string' && PROMPTS.has(ctx.query.prompt) ? { prompt: ctx.query.prompt } : {};
    const url = oidc.buildAuthorizationUrl(await configuration(), {
      redirect_uri: demo.redirectUri,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(entry.verifier),
      code_challenge_method: 'S256',
      state: entry.state,
      nonce: entry.nonce,
      ...prompt,
    });
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  router.get('/callback', async (ctx) => {
    const id = ctx.cookies.get(COOKIE, { signed: false });
    const entry = id ? pending.get(id) : undefined;
    if (id) pending.delete(id);
    ctx.cookies.set(COOKIE, null, { path: '/demo', signed: false });
    if (!entry || entry.expires < Date.now()) {
      return page(ctx, 400, {
        error: 'unknown_sign_in',
        description: 'This sign-in was not started here or has expired. Start again.',
      });
    }

    const config = await configuration();
    try {
      const tokens = await oidc.authorizationCodeGrant(config, new URL(`${demo.redirectUri}?${ctx.querystring}`), {
        pkceCodeVerifier: entry.verifier,
        expectedState: entry.state,
        expectedNonce: entry.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims()!;
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub);
      page(ctx, 200, {
        idToken: JSON.stringify(idToken, null, 2),
        userinfo: JSON.stringify(userinfo, null, 2),
        scope: tokens.scope,
        expiresIn: tokens.expiresIn(),
      });
    } catch (err) {
      // What the authorization server answered (e.g. access_denied after Deny), shown as the app received it.
      if (err instanceof oidc.AuthorizationResponseError || err instanceof oidc.ResponseBodyError) {
        return page(ctx, 400, { error: err.error, description: err.error_description ?? '' });
      }
      throw err;
    }
  });

  return router;
}

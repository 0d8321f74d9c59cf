import { decodeJwt } from 'jose';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { readsRoute, routePath } from './route-path.ts';
import type { ProviderPages } from './pages.ts';

/** RFC 9126 2.2: the prefix of a request_uri from the pushed authorization request endpoint. */
const PAR_URN = 'urn:ietf:params:oauth:request_uri:';

/**
 * A request_uri is used once (RFC 9126 4, FAPI 2.0 SP 5.3.2.2 item 5). oidc-provider spends it only when it issues the
 * code, so the same request_uri sent to /auth again before that (by the browser, or by whoever saw it) opened a second
 * interaction, and parallel requests with an SSO session could each be answered. Here the first /auth that presents a
 * valid request_uri for its client claims it, in one atomic statement in Postgres (the ReplayDetection rows, shared by
 * every process), before oidc-provider sees the request; any later or concurrent one is refused. The claim lives as
 * long as the request_uri is valid; oidc-provider still consumes the pushed request when it issues the code. Only GET
 * (and HEAD, which runs the same route) reaches /auth: oidc-provider's POST form of the endpoint is off
 * (enableHttpPostMethods). Every spelling of /auth that oidc-provider routes there (`/AUTH`, `/auth/`) is covered.
 */
export function parUsedOnce(provider: Provider, pages: ProviderPages): Middleware {
  return async (ctx, next) => {
    if (routePath(ctx.path) !== '/auth' || !readsRoute(ctx.method)) return next();
    const { request_uri: requestUri, client_id: clientId } = ctx.query;
    if (typeof requestUri !== 'string' || !requestUri.startsWith(PAR_URN) || typeof clientId !== 'string')
      return next();
    // oidc-provider loads the pushed request by `request_uri.split(URN)[1]` (load_pushed_authorization_request in
    // actions/authorization/pushed_authorization_requests.js), so text after a second URN is ignored there. The id
    // checked here must be the one it loads: a request_uri that is not exactly the URN and one id is refused.
    const [, id = '', ...rest] = requestUri.split(PAR_URN);
    if (rest.length > 0) return refuse(ctx, pages);
    const pushed = await provider.PushedAuthorizationRequest.find(id, { ignoreExpiration: true });
    // An unknown, expired or another client's request_uri is left to oidc-provider, which refuses it.
    if (!pushed?.isValid || pushedFor(pushed.request) !== clientId) return next();
    const now = Math.floor(Date.now() / 1000);
    if (await provider.ReplayDetection.unique('kluis:request_uri', pushed.jti, Math.max(pushed.exp ?? now, now) + 60))
      return next();
    refuse(ctx, pages);
  };
}

/** The page oidc-provider shows (renderError in configuration.ts) for a request_uri it refuses. */
function refuse(ctx: Context, pages: ProviderPages): void {
  ctx.status = 400;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  const description = 'request_uri is invalid, expired, or was already used';
  ctx.body = pages.requestUriRefused(ctx, { error: 'invalid_request_uri', error_description: description });
}

/** The client a pushed request was made by: oidc-provider keeps it as the `client_id` of the request object. */
function pushedFor(request: unknown): unknown {
  try {
    return typeof request === 'string' ? decodeJwt(request).client_id : undefined;
  } catch {
    return undefined;
  }
}

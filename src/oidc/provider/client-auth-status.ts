import type { Middleware } from 'koa';

const NO_CLIENT_AUTH = 'no client authentication mechanism provided';

/**
 * RFC 6749 5.2 names "no client authentication included" as `invalid_client`, answered with 401 and a
 * WWW-Authenticate challenge; RFC 7662 2.1 and RFC 7009 2.1 require the same at introspection and revocation.
 * oidc-provider answers that case with 400 `invalid_request`; this post-processing step corrects it.
 */
export const clientAuthStatus: Middleware = async (ctx, next) => {
  await next();
  const body = ctx.body as { error?: string; error_description?: string } | undefined;
  if (ctx.status === 400 && body?.error === 'invalid_request' && body.error_description === NO_CLIENT_AUTH) {
    ctx.status = 401;
    ctx.set('WWW-Authenticate', 'Basic realm="kluis"');
    ctx.body = { error: 'invalid_client', error_description: 'client authentication is required' };
  }
};

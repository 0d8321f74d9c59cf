import type { Middleware } from 'koa';
import { DatabaseUnavailable } from '../db/errors.ts';
import type { Logger } from '../log/logger.ts';
import { render } from './views.ts';

/**
 * Errors from Kluis's own routes: 503 while Postgres is away (clients retry; nothing was half-done), 500 with
 * only the request id otherwise. The provider renders its own errors (see oidc/errors.ts).
 */
/** Pages people look at get an HTML error page; everything else (OAuth endpoints, probes) a JSON error. */
const BROWSER_PATHS = /^\/(interaction|account|auth|session|demo)(\/|$)/;

export function errorBoundary(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof DatabaseUnavailable) {
        ctx.status = 503;
        ctx.set('Retry-After', '5');
        if (BROWSER_PATHS.test(ctx.path)) {
          ctx.type = 'html';
          ctx.body = render('error', { heading: 'Temporarily unavailable', description: 'Kluis is temporarily unavailable. Please try again in a moment.', error: 'temporarily_unavailable', requestId: ctx.state.requestId });
        } else {
          ctx.body = { error: 'temporarily_unavailable', error_description: 'the database is unavailable, retry shortly' };
        }
        return;
      }
      log.error({ err, requestId: ctx.state.requestId }, 'unhandled error');
      ctx.status = 500;
      ctx.body = { error: 'server_error', error_description: 'internal error', request_id: ctx.state.requestId };
    }
  };
}

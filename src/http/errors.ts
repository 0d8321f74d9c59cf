import type { Middleware } from 'koa';
import { DatabaseUnavailable, UnstorableInput } from '../db/errors.ts';
import type { Logger } from '../log/logger.ts';
import { routePath } from '../oidc/provider/route-path.ts';
import { render } from '../web/render.ts';

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
        if (BROWSER_PATHS.test(routePath(ctx.path))) {
          ctx.type = 'html';
          ctx.body = render('error', { heading: 'Temporarily unavailable', description: 'Kluis is temporarily unavailable. Please try again in a moment.', error: 'temporarily_unavailable', requestId: ctx.state.requestId });
        } else {
          ctx.body = { error: 'temporarily_unavailable', error_description: 'the database is unavailable, retry shortly' };
        }
        return;
      }
      if (err instanceof UnstorableInput) {
        ctx.status = 400;
        if (BROWSER_PATHS.test(routePath(ctx.path))) {
          ctx.type = 'html';
          ctx.body = render('error', { heading: 'Request refused', description: 'The request contains characters that are not allowed.', error: 'invalid_request', requestId: ctx.state.requestId });
        } else {
          ctx.body = { error: 'invalid_request', error_description: err.message };
        }
        return;
      }
      // A client error raised by a middleware (a body over its limit: 413, malformed: 400) keeps its status.
      const status = (err as { status?: number; expose?: boolean }).status;
      if (typeof status === 'number' && status >= 400 && status < 500 && (err as { expose?: boolean }).expose) {
        ctx.status = status;
        const description = status === 413 ? 'The request is too large.' : 'The request could not be understood.';
        if (BROWSER_PATHS.test(routePath(ctx.path))) {
          ctx.type = 'html';
          ctx.body = render('error', { heading: 'Request refused', description, error: 'invalid_request', requestId: ctx.state.requestId });
        } else {
          ctx.body = { error: 'invalid_request', error_description: description };
        }
        return;
      }
      log.error({ err, requestId: ctx.state.requestId }, 'unhandled error');
      ctx.status = 500;
      ctx.body = { error: 'server_error', error_description: 'internal error', request_id: ctx.state.requestId };
    }
  };
}

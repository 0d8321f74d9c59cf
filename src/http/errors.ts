import type { Middleware } from 'koa';
import { DatabaseUnavailable } from '../db/errors.ts';
import type { Logger } from '../log/logger.ts';

/**
 * Errors from Kluis's own routes: 503 while Postgres is away (clients retry; nothing was half-done), 500 with
 * only the request id otherwise. The provider renders its own errors (see oidc/errors.ts).
 */
export function errorBoundary(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof DatabaseUnavailable) {
        ctx.status = 503;
        ctx.set('Retry-After', '5');
        ctx.body = { error: 'temporarily_unavailable', error_description: 'the database is unavailable, retry shortly' };
        return;
      }
      log.error({ err, requestId: ctx.state.requestId }, 'unhandled error');
      ctx.status = 500;
      ctx.body = { error: 'server_error', error_description: 'internal error', request_id: ctx.state.requestId };
    }
  };
}

import type { Middleware } from 'koa';
import { DatabaseUnavailable, UnstorableInput } from '../db/errors.ts';
import type { Logger } from '../log/logger.ts';
import { StorageUnavailable } from '../oidc/provider/errors.ts';
import { answerError, PageError, type ErrorAnswer } from '../web/error-page.ts';

/** Postgres is away: clients retry; nothing was half-done. */
export const UNAVAILABLE: ErrorAnswer = {
  status: 503,
  text: { heading: 'error.unavailable.heading', message: 'error.unavailable.message' },
  description: 'the service is temporarily unavailable; try again in a moment',
  error: 'temporarily_unavailable',
  json: { error: 'temporarily_unavailable', error_description: 'the database is unavailable, retry shortly' },
  retryAfter: 5,
};

const REFUSED = 'error.refused.heading';

/**
 * Errors from Kluis's own routes, answered by the one error page (HTML on browser pages, JSON elsewhere): a
 * {@link PageError} as written, 503 while Postgres is away, 400 for input Postgres cannot store, any other client
 * error (a body over its limit: 413, malformed: 400) with its status and a generic description, and 500 with only
 * the request id otherwise. The provider renders its own errors (see oidc/provider/errors.ts).
 */
export function errorBoundary(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof PageError) return answerError(ctx, err.answer);
      const unavailable = err instanceof DatabaseUnavailable || err instanceof StorageUnavailable;
      if (unavailable) return answerError(ctx, UNAVAILABLE);
      if (err instanceof UnstorableInput) {
        const description = 'The request contains characters that are not allowed.';
        const json = { error: 'invalid_request', error_description: err.message };
        const text = { heading: REFUSED, message: 'error.refused.unstorable' };
        return answerError(ctx, { status: 400, text, description, error: 'invalid_request', json });
      }
      // Any other client error keeps its status but not its message: only a PageError is written for the person at
      // the browser or client. A Kluis error's message is written for the operator (a constraint name, a resolver
      // error naming internal hosts), and a middleware's (a body over its limit: 413) for a developer.
      const { status, expose } = err as { status?: unknown; expose?: unknown };
      if (typeof status === 'number' && status >= 400 && status < 500 && expose) {
        const description = status === 413 ? 'The request is too large.' : 'The request could not be understood.';
        const text = {
          heading: REFUSED,
          message: status === 413 ? 'error.refused.tooLarge' : 'error.refused.malformed',
        };
        return answerError(ctx, { status, text, description, error: 'invalid_request' });
      }
      log.error({ err, requestId: ctx.state.requestId }, 'unhandled error');
      answerError(ctx, {
        status: 500,
        text: { heading: 'error.server.heading', message: 'error.server.message' },
        description: 'the request could not be completed',
        error: 'server_error',
        json: { error: 'server_error', error_description: 'internal error', request_id: ctx.state.requestId },
      });
    }
  };
}

import type { Middleware } from 'koa';
import type { Logger } from '../log/logger.ts';

/**
 * One JSON line per request, written when the response is finished (also for the provider's own responses). Below
 * LOG_LEVEL=info there is none, and no listener is added.
 */
export function accessLog(log: Logger): Middleware {
  return async (ctx, next) => {
    if (!log.isLevelEnabled('info')) return next();
    const started = process.hrtime.bigint();
    ctx.res.once('finish', () => {
      log.info(
        {
          requestId: ctx.state.requestId,
          method: ctx.method,
          path: ctx.path,
          status: ctx.res.statusCode,
          ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        },
        'request',
      );
    });
    await next();
  };
}

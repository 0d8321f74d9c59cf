import Router from '@koa/router';
import type { Database } from '../db/database.ts';

/**
 * `/healthz`: the process is alive (for restarts). `/readyz`: it can serve, i.e. Postgres answers
 * (for load balancers). Neither is cached (the endpoint catalogue's cache rule).
 */
export function healthRoutes(db: Database): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    await db.ping(); // DatabaseUnavailable → 503 in errorBoundary
    ctx.body = { status: 'ready' };
  });
  return router;
}

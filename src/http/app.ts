import compose from 'koa-compose';
import type { Middleware } from 'koa';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/database.ts';
import type { Logger } from '../log/logger.ts';
import type Router from '@koa/router';
import type { AuditLog } from '../audit/writer.ts';
import { accessLog } from './access-log.ts';
import { canonicalHost } from './canonical-host.ts';
import type { Metrics } from './metrics.ts';
import { rateLimits } from './rate-limit.ts';
import { PostgresRateLimits } from '../db/rate-limits.ts';
import { dpopFreshness } from '../oidc/fapi/dpop-freshness.ts';
import { CLOCK_TOLERANCE } from '../config/protocol-constants.ts';
import { errorBoundary } from './errors.ts';
import { healthRoutes } from './health.ts';
import { proxyTrust, requireTls } from './proxy-trust.ts';
import { requestId } from './request-id.ts';
import { securityHeaders } from './security-headers.ts';
import { pageContext, type Pages } from '../web/render.ts';
import { pageNotFound } from '../web/site.ts';

export interface AppDependencies {
  config: Config;
  db: Database;
  log: Logger;
  audit: AuditLog;
  metrics: Metrics;
  /** Kluis's own pages (sign-in, consent), served before the provider's routes. */
  routers: Router[];
  /** The pages' templates, language and brand; every answer can render one (errors included). */
  pages: Pages;
}

/**
 * The edge: what every request passes before anything that holds state (no database, no rate-limit store). The bench
 * runs the bare provider behind this same edge too, to measure what it costs apart from storage (docs/performance.md).
 */
export function edge({
  config,
  log,
  metrics,
  pages,
}: Pick<AppDependencies, 'config' | 'log' | 'metrics' | 'pages'>): Middleware {
  return compose([
    pageContext(pages, config.production),
    proxyTrust(config.trustedProxies, config.mtlsCertificateHeader),
    canonicalHost(config.issuer),
    requestId(config.trustProxy),
    accessLog(log),
    metrics.http,
    securityHeaders(config.production),
    errorBoundary(log),
  ]) as Middleware;
}

/**
 * The HTTP pipeline: every request passes these in order; what Kluis does not route itself goes on to oidc-provider's
 * router. It runs inside oidc-provider's own Koa app, first in it (ProviderHost.serve): one Koa context per request.
 */
export function httpPipeline({ config, db, log, audit, metrics, routers, pages }: AppDependencies): Middleware {
  const store = new PostgresRateLimits(db);
  return compose([
    edge({ config, log, metrics, pages }),
    // No allowedMethods(): in the one context it sees what the routers below matched, and would answer 405 for a path
    // one of them serves under another method (an interaction id holding %2F), where oidc-provider answers 404.
    healthRoutes(db).routes(),
    requireTls(config.production),
    rateLimits({
      store,
      audit,
      metrics,
      limits: config.rateLimits,
      log,
      certificateHeader: config.mtlsCertificateHeader,
    }),
    dpopFreshness(CLOCK_TOLERANCE),
    ...routers.map((router) => router.routes()),
    pageNotFound,
  ]) as Middleware;
}

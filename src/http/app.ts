import Koa from 'koa';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/database.ts';
import type { Logger } from '../log/logger.ts';
import type { ProviderHost } from '../oidc/provider/host.ts';
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

export interface AppDependencies {
  config: Config;
  db: Database;
  host: ProviderHost;
  log: Logger;
  audit: AuditLog;
  metrics: Metrics;
  /** Kluis's own pages (sign-in, consent), served before the provider's routes. */
  routers: Router[];
}

/** The HTTP pipeline: every request passes these in order; what Kluis does not route itself goes to oidc-provider. */
export function createApp({ config, db, host, log, audit, metrics, routers }: AppDependencies): Koa {
  // Behind a trusted proxy only the last X-Forwarded-For entry (the address that proxy saw) is trusted: the entries
  // before it come from the client, and the per-IP sign-in throttle must not be dodged with them. Whether a request
  // came through a trusted proxy at all is decided per connection (proxyTrust strips the headers otherwise).
  const app = new Koa({ proxy: config.trustProxy, maxIpsCount: 1 });
  const health = healthRoutes(db);

  app.use(proxyTrust(config.trustedProxies, config.mtlsCertificateHeader));
  app.use(canonicalHost(config.issuer));
  app.use(requestId(config.trustProxy));
  app.use(accessLog(log));
  app.use(metrics.http);
  app.use(securityHeaders(config.production));
  app.use(errorBoundary(log));
  app.use(health.routes());
  app.use(health.allowedMethods());
  app.use(requireTls(config.production));
  const store = new PostgresRateLimits(db);
  app.use(
    rateLimits({
      store,
      audit,
      metrics,
      limits: config.rateLimits,
      log,
      certificateHeader: config.mtlsCertificateHeader,
    }),
  );
  app.use(dpopFreshness(CLOCK_TOLERANCE));
  for (const router of routers) app.use(router.routes());
  app.use(async (ctx) => {
    ctx.respond = false;
    await host.handle(ctx.req, ctx.res);
  });

  app.on('error', (err: Error) => log.error({ err }, 'http error'));
  return app;
}

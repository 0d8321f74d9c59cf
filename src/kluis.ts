import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tokenSaves, wireProviderEvents } from './audit/provider-events.ts';
import { AuditLog } from './audit/writer.ts';
import { PgAccountStore } from './db/account-store.ts';
import { PgAuditStore } from './db/audit-chain.ts';
import type { Config } from './config/env.ts';
import { ChangeCache } from './db/change-cache.ts';
import { OidcBatches } from './db/oidc-batches.ts';
import { connect, type Connection } from './db/connect.ts';
import { hashLegacyBearerIds } from './db/bearer-ids.ts';
import { rewrapLegacyRecoveryCodes } from './auth/recovery-codes.ts';
import { startSweeper } from './db/sweeper.ts';
import { SignIn } from './auth/sign-in.ts';
import { accountRoutes } from './web/account/routes.ts';
import { AccountSession } from './web/account/session.ts';
import { GrantActivity } from './consents/activity.ts';
import { Consents } from './consents/consents.ts';
import { ensureAccountClient } from './oidc/clients/account-client.ts';
import { demoRelyingParty } from './demo/relying-party.ts';
import { refuseDemoDataInProduction } from './demo/production-guard.ts';
import { seedDemo, type DemoSetup } from './demo/seed.ts';
import { httpPipeline } from './http/app.ts';
import { Metrics, startMetricsServer } from './http/metrics.ts';
import { scriptHashesOnly } from './http/security-headers.ts';
import { interactionRoutes } from './web/interaction/routes.ts';
import { providerPages } from './web/provider-pages.ts';
import { Pages } from './web/render.ts';
import { siteRoutes } from './web/site.ts';
import type { Logger } from './log/logger.ts';
import { ensureSigningKeys } from './oidc/provider/keys.ts';
import { ProviderHost, type ProviderPlugin } from './oidc/provider/host.ts';
import { loadServerSecrets } from './secrets/server-secrets.ts';

export interface RunningKluis {
  url: string;
  host: ProviderHost;
  connection: Connection;
  /** Set when DEMO is on: the demo person and client, for the start banner. */
  demo: DemoSetup | undefined;
  /** Where Prometheus scrapes (METRICS_PORT), if enabled. */
  metricsUrl: string | undefined;
  /** Stops accepting connections, lets in-flight requests finish (up to SHUTDOWN_TIMEOUT), then closes the database. */
  stop(): Promise<void>;
}

/** config → database → secrets → keys → provider → http, in that order. */
export async function startKluis(config: Config, log: Logger): Promise<RunningKluis> {
  // Templates and catalogues first: a broken message or theme stops Kluis before it touches the database.
  const pages = new Pages(config.brand, { showDetail: !config.production });
  const connection = await connect(config, log);
  const { db } = connection;
  let server: Server | undefined;
  let cache: ChangeCache | undefined;
  try {
    const secrets = await loadServerSecrets(db, config);
    if (config.production) await refuseDemoDataInProduction(db);
    const rekeyed = await hashLegacyBearerIds(db, secrets.box);
    if (rekeyed) log.info({ rows: rekeyed }, 'stored token ids replaced by keyed hashes');
    if (await rewrapLegacyRecoveryCodes(db, secrets.box)) log.info('old recovery codes re-wrapped as keyed hashes');
    // One set of group-committed statements for the provider's storage and the audit log (db/oidc-batches.ts).
    const batches = new OidcBatches(db);
    const audit = new AuditLog(new PgAuditStore(db, batches), log);
    for (const kid of await ensureSigningKeys(db, secrets.box)) {
      await audit.record({ type: 'key.generated', actor: 'system', details: { kid } });
    }
    cache = new ChangeCache(connection.url, log);
    await cache.start();
    const grants = new GrantActivity(db);
    const plugins: ProviderPlugin[] = [
      (provider) => provider.use(scriptHashesOnly),
      (provider) => wireProviderEvents(provider, audit, log, grants),
    ];
    const accounts = new PgAccountStore(db);
    const host = await ProviderHost.create({
      config,
      db,
      accounts,
      secrets,
      log,
      cache,
      pages: providerPages(log),
      plugins,
      onSave: tokenSaves(audit),
      batches,
    });
    host.startRefreshing(config.keys.refreshInterval);
    const stopSweeper = startSweeper(db, { ...config.sweep, loginIpWindow: config.sca.ipLimit.windowSeconds }, log);

    const signIn = new SignIn(accounts, secrets.box, audit, config.sca);
    const consents = new Consents(db, secrets.box, host, audit, log);
    await ensureAccountClient(host, db, secrets.box, config.issuer);
    const interactions = interactionRoutes({
      host,
      db,
      accounts,
      signIn,
      audit,
      consents,
    });
    const account = accountRoutes({
      config,
      db,
      accounts,
      secrets,
      session: new AccountSession(host, accounts, secrets, config),
      consents,
      signIn,
      audit,
    });
    const demo = config.demo ? await seedDemo({ config, db, accounts, secrets, host, audit }) : undefined;
    const site = siteRoutes(pages);
    const routers = demo
      ? [site, interactions, account, demoRelyingParty(config.issuer, demo)]
      : [site, interactions, account];
    const metrics = new Metrics();
    metrics.watchPool(db.pool);
    audit.onRecord((event) => metrics.observe(event));
    host.serve(httpPipeline({ config, db, log, audit, metrics, routers, pages }));
    const metricsServer = config.metrics
      ? await startMetricsServer(metrics, config.metrics.host, config.metrics.port)
      : undefined;
    server = createServer((req, res) => void host.handle(req, res)).listen(config.port, config.host);
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const listening = server;
    log.info(
      { issuer: config.issuer, port, database: connection.source, metrics: metricsServer?.url },
      'kluis listening',
    );

    return {
      url: `http://127.0.0.1:${port}`,
      host,
      connection,
      demo,
      metricsUrl: metricsServer?.url,
      async stop() {
        metricsServer?.server.close();
        host.stop();
        stopSweeper();
        await drain(listening, config.shutdownTimeout * 1000);
        await audit.drain();
        await cache?.stop();
        await connection.close();
      },
    };
  } catch (err) {
    server?.close();
    await cache?.stop();
    await connection.close().catch(() => undefined);
    throw err;
  }
}

async function drain(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearTimeout(timer);
}

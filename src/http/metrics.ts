import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Middleware } from 'koa';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditEvent } from '../audit/events.ts';
import { ConfigError } from '../config/env.ts';
import type { Database } from '../db/database.ts';
import { metricLabel } from './endpoints.ts';

type HttpLabel = 'method' | 'route' | 'status';

interface HttpChild {
  requests: Counter.Internal;
  latency: Histogram.Internal<HttpLabel>;
}

/** Kluis's Prometheus metrics (prom-client), fed by the HTTP pipeline and the audit log. */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<HttpLabel>;
  readonly #latency: Histogram<HttpLabel>;
  readonly #tokens: Counter<'grant_type' | 'kind'>;
  readonly #logins: Counter<'outcome'>;
  readonly #lockouts: Counter;
  readonly #rateLimited: Counter<'limit'>;
  readonly #httpChildren = new Map<string, HttpChild>();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'kluis_' });
    this.#requests = new Counter({
      name: 'kluis_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'kluis_http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.#tokens = new Counter({
      name: 'kluis_tokens_issued_total',
      help: 'Tokens and codes issued, by grant type and kind',
      labelNames: ['grant_type', 'kind'],
      registers,
    });
    this.#logins = new Counter({
      name: 'kluis_logins_total',
      help: 'Sign-ins by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.#lockouts = new Counter({
      name: 'kluis_account_lockouts_total',
      help: 'Accounts locked after failed sign-ins',
      registers,
    });
    this.#rateLimited = new Counter({
      name: 'kluis_rate_limited_total',
      help: 'Requests refused by a rate limit',
      labelNames: ['limit'],
      registers,
    });
  }

  /** The database pool's connections by state, read at each scrape. */
  watchPool(pool: Pick<Database['pool'], 'totalCount' | 'idleCount' | 'waitingCount'>): void {
    new Gauge({
      name: 'kluis_db_pool_connections',
      help: 'Database pool connections by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
  }

  /** Request count and latency, recorded when the response is finished (the provider's responses included). */
  readonly http: Middleware = async (ctx, next) => {
    const started = process.hrtime.bigint();
    ctx.res.once('finish', () => {
      const child = this.#httpChild(ctx.method, metricLabel(ctx.path), ctx.res.statusCode);
      child.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
      child.requests.inc();
    });
    await next();
  };

  /**
   * The request counter and latency histogram for one (method, route, status), made once: prom-client builds and
   * checks a label object for every `labels()` call. Bounded as the time series are: methods are the few Node's HTTP
   * parser accepts, routes come from the endpoint catalogue, statuses are three digits.
   */
  #httpChild(method: string, route: string, status: number): HttpChild {
    const key = `${method} ${route} ${status}`;
    let child = this.#httpChildren.get(key);
    if (!child) {
      const labels = [method, route, String(status)];
      child = { requests: this.#requests.labels(...labels), latency: this.#latency.labels(...labels) };
      this.#httpChildren.set(key, child);
    }
    return child;
  }

  /** Audit events are the one source for what happened: tokens, sign-ins, lockouts. */
  observe(event: AuditEvent): void {
    const details = event.details ?? {};
    if (event.type === 'token.issued')
      this.#tokens.inc({ grant_type: String(details.grant_type ?? 'none'), kind: String(details.kind ?? 'unknown') });
    else if (event.type === 'login.succeeded') this.#logins.inc({ outcome: 'succeeded' });
    else if (event.type === 'login.failed') this.#logins.inc({ outcome: 'failed' });
    else if (event.type === 'login.throttled') this.#logins.inc({ outcome: 'throttled' });
    else if (event.type === 'account.locked') this.#lockouts.inc();
  }

  rateLimited(limit: string): void {
    this.#rateLimited.inc({ limit });
  }
}

/** /metrics on its own listener (METRICS_HOST:METRICS_PORT), never on the public port. */
export async function startMetricsServer(
  metrics: Metrics,
  host: string,
  port: number,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    throw new ConfigError(
      `METRICS_PORT: cannot listen on ${host}:${port} (${(err as Error).message}); choose a free port`,
    );
  }
  const address = server.address() as AddressInfo;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/metrics` };
}

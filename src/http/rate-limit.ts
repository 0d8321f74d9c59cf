import type { Context, Middleware } from 'koa';
import type { AuditLog } from '../audit/writer.ts';
import type { Config } from '../config/env.ts';
import type { RateLimitStore } from '../db/rate-limits.ts';
import type { Logger } from '../log/logger.ts';
import { answerError } from '../web/error-page.ts';
import { claimedClient, formParams, keyPart, MAX_BODY, offersCredential, readBody } from './client-claims.ts';
import { bucketOf, type Bucket } from './endpoints.ts';
import type { Metrics } from './metrics.ts';
import { RecentCounts, retryAfterSeconds } from './recent-counts.ts';

interface Dependencies {
  store: RateLimitStore;
  audit: AuditLog;
  metrics: Metrics;
  limits: Config['rateLimits'];
  log: Logger;
  /** MTLS_CERTIFICATE_HEADER: a certificate in it is the client's credential (RFC 8705 2). */
  certificateHeader: string | undefined;
}

/** Whom a counter counts: the audit event of a refusal names them. */
type Counted = { clientId?: string; ip?: string };

/**
 * Rate limits shared by every Kluis process (fixed windows counted in Postgres): per address on the sign-in forms,
 * the authorization endpoint and dynamic registration; per client on the client endpoints (RFC 6749 token, RFC 9126
 * PAR, RFC 7662 introspection, RFC 7009 revocation). Which request counts against which limit is written in the
 * endpoint catalogue (endpoints.ts). A refusal is 429 with Retry-After (an OAuth error body on OAuth endpoints, a
 * page on the browser ones), counted in the metrics, and the first refusal of a window is an audit event.
 *
 * Per client, only requests that carried a credential and succeeded count: a success proves the client
 * authenticated (every client endpoint authenticates first, RFC 6749 2.3, RFC 7662 2.1, RFC 7009 2.1), while a
 * failure may come from a stranger sending the client's id with a wrong or malformed credential, who must not use up
 * its quota; failures count against their address instead. A request that carries no credential at all, only a
 * `client_id` (a public client, RFC 6749 2.1, or a stranger naming one), proves nothing about who sent it, success
 * or not: it counts against the sender's address only, so a stranger with bogus codes uses up their own quota and
 * not a public client's, and a stranger naming a new made-up client_id each time gets no fresh quota with it.
 */
export function rateLimits({ store, audit, metrics, limits, log, certificateHeader }: Dependencies): Middleware {
  const window = limits.windowSeconds;
  const clientCounts = new RecentCounts();
  const limitOf: Record<Bucket, number> = {
    login: limits.login,
    token: limits.token,
    authorize: limits.authorize,
    logout: limits.authorize,
    register: limits.register,
  };

  async function refuse(ctx: Context, name: Bucket, counted: Counted, resetAt: Date, hits: number) {
    metrics.rateLimited(name);
    if (hits === limitOf[name] + 1) {
      const { clientId, ip } = counted;
      await audit.record({
        type: 'rate_limit.exceeded',
        actor: clientId && !ip ? `client:${clientId}` : 'anonymous',
        ...(clientId ? { clientId } : {}),
        details: { limit: name, ...(ip ? { ip } : {}), window_seconds: window },
      });
    }
    ctx.set('Cache-Control', 'no-store');
    answerError(ctx, {
      status: 429,
      text: { heading: 'error.tooMany.heading', message: 'error.tooMany.message' },
      description: 'too many requests; retry after the time in Retry-After',
      error: 'too_many_requests',
      json: {
        error: 'temporarily_unavailable',
        error_description: 'too many requests; retry after the time in Retry-After',
      },
      retryAfter: retryAfterSeconds(resetAt),
    });
  }

  /** The client endpoints: counted per client or per address once the answer is known (see above). */
  async function clientEndpoint(ctx: Context, next: () => Promise<unknown>) {
    const body = await readBody(ctx);
    if (body === undefined) {
      ctx.status = 413;
      ctx.body = { error: 'invalid_request', error_description: `request body larger than ${MAX_BODY} bytes` };
      return;
    }
    const params = formParams(ctx, body);
    const clientId = claimedClient(ctx, params);
    const ipKey = `token-ip:${ctx.ip}`;
    const credential = offersCredential(ctx, params, certificateHeader);
    // With a credential: the client if the request succeeds (below); without one, or when it fails: the address.
    const clientKey = clientId && credential ? `token-client:${keyPart(clientId)}` : undefined;
    const counted = new Map<string, Counted>([[ipKey, { ip: ctx.ip }]]);
    if (clientKey) counted.set(clientKey, { clientId });
    const keys = [...counted.keys()];
    // Refuse before doing any work when the client (or this address) is over its limit already. The counts are
    // read from Postgres (one query for both) unless this process saw them within the last second well below the
    // limit.
    if (!clientCounts.comfortablyBelow(keys, limits.token)) {
      const current = await store.peek(keys, window);
      clientCounts.learnPeek(keys, current, window);
      const over = current.find((count) => count.hits >= limits.token);
      if (over) {
        await refuse(ctx, 'token', counted.get(over.key)!, over.resetAt, over.hits + 1);
        clientCounts.learn(over.key, await store.hit(over.key, window));
        return;
      }
    }
    // Counted before the answer leaves, whoever writes it: oidc-provider's router runs inside this middleware (one
    // Koa app) and Koa sends the response only once the whole chain has returned, so a client's next request sees
    // this hit, and requests sent one after another cannot go past the limit. An error thrown past here is a failure.
    let succeeded = false;
    try {
      await next();
      succeeded = ctx.status >= 200 && ctx.status < 300;
    } finally {
      const key = clientKey !== undefined && succeeded ? clientKey : ipKey;
      try {
        clientCounts.learn(key, await store.hit(key, window));
      } catch (err) {
        // The answer is decided already; an uncounted hit only lets the client one request further.
        log.warn({ err, key }, 'rate-limit hit not counted');
      }
    }
  }

  return async (ctx, next) => {
    const bucket = bucketOf(ctx.method, ctx.path);
    if (bucket === 'token') return clientEndpoint(ctx, next);
    if (bucket) {
      const { hits, resetAt } = await store.hit(`${bucket}-ip:${ctx.ip}`, window);
      if (hits > limitOf[bucket]) return refuse(ctx, bucket, { ip: ctx.ip }, resetAt, hits);
    }
    await next();
  };
}

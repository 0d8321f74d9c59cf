import { createHash } from 'node:crypto';
import { parse } from 'node:querystring';
import type { Context, Middleware } from 'koa';
import { decodeJwt } from 'jose';
import type { AuditLog } from '../audit/writer.ts';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/database.ts';
import type { Logger } from '../log/logger.ts';
import { countHit } from '../db/rate-limits.ts';
import type { Metrics } from './metrics.ts';
import { readsRoute, routePath } from '../oidc/provider/route-path.ts';
import { render } from '../web/render.ts';

/** oidc-provider refuses bodies above 56 KiB; Kluis reads token-endpoint bodies itself to find the client. */
const MAX_BODY = 56 * 1024;

type LimitName = 'login' | 'token' | 'authorize' | 'logout' | 'register';

interface Dependencies {
  db: Database;
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
 * The client endpoints (RFC 6749 token, RFC 9126 PAR, RFC 7662 introspection, RFC 7009 revocation). These and the
 * patterns below are compared with {@link routePath}, the form every spelling of a route that reaches its handler
 * shares.
 */
const CLIENT_ENDPOINTS = new Set(['/token', '/request', '/token/introspection', '/token/revocation']);
// The account area's forms judge second factors too (re-enrolment, new recovery codes): the same bucket.
const SIGN_IN_FORMS = /^\/interaction\/[^/]+\/(login|mfa|enrol)$|^\/account\//;
const LOGOUT = /^\/session\/end(\/confirm)?$/;

/**
 * Rate limits shared by every Kluis process (fixed windows counted in Postgres): per address on the sign-in forms,
 * the authorization endpoint and dynamic registration; per client on the client endpoints. A refusal is 429 with
 * Retry-After (an OAuth error body on OAuth endpoints, a page on the browser ones), counted in the metrics, and the
 * first refusal of a window is an audit event.
 *
 * Per client, only requests that carried a credential and succeeded count: a success proves the client
 * authenticated (every client endpoint authenticates first, RFC 6749 2.3, RFC 7662 2.1, RFC 7009 2.1), while a
 * failure may come from a stranger sending the client's id with a wrong or malformed credential, who must not use up
 * its quota; failures count against their address instead. A request that carries no credential at all, only a
 * `client_id` (a public client, RFC 6749 2.1, or a stranger naming one), proves nothing about who sent it, success
 * or not: it counts against the sender's address only, so a stranger with bogus codes uses up their own quota and
 * not a public client's, and a stranger naming a new made-up client_id each time gets no fresh quota with it.
 */
export function rateLimits({ db, audit, metrics, limits, log, certificateHeader }: Dependencies): Middleware {
  const window = limits.windowSeconds;
  const clientCounts = new RecentCounts();

  async function refuse(ctx: Context, name: LimitName, counted: Counted, resetAt: Date, hits: number, limit: number, oauth: boolean) {
    metrics.rateLimited(name);
    if (hits === limit + 1) {
      const { clientId, ip } = counted;
      await audit.record({
        type: 'rate_limit.exceeded',
        actor: clientId && !ip ? `client:${clientId}` : 'anonymous',
        ...(clientId ? { clientId } : {}),
        details: { limit: name, ...(ip ? { ip } : {}), window_seconds: window },
      });
    }
    ctx.status = 429;
    ctx.set('Retry-After', String(Math.max(1, Math.ceil((resetAt.getTime() - Date.now()) / 1000))));
    ctx.set('Cache-Control', 'no-store');
    if (oauth) {
      ctx.body = { error: 'temporarily_unavailable', error_description: 'too many requests; retry after the time in Retry-After' };
    } else {
      ctx.type = 'html';
      ctx.body = render('error', { heading: 'Too many requests', description: 'Please wait a moment and try again.', error: 'too_many_requests', requestId: ctx.state.requestId });
    }
  }

  /** Counts and lets through, or refuses; true when let through. */
  async function gate(ctx: Context, name: LimitName, key: string, limit: number, oauth: boolean): Promise<boolean> {
    const { hits, resetAt } = await countHit(db, key, window);
    if (hits <= limit) return true;
    await refuse(ctx, name, { ip: ctx.ip }, resetAt, hits, limit, oauth);
    return false;
  }

  return async (ctx, next) => {
    const { method } = ctx;
    const path = routePath(ctx.path);
    if (method === 'POST' && SIGN_IN_FORMS.test(path)) {
      if (await gate(ctx, 'login', `login-ip:${ctx.ip}`, limits.login, false)) await next();
      return;
    }
    if (path === '/auth' && (readsRoute(method) || method === 'POST')) {
      if (await gate(ctx, 'authorize', `authorize-ip:${ctx.ip}`, limits.authorize, false)) await next();
      return;
    }
    // RP-initiated logout is open to anyone and stores a session for its confirmation page.
    if (LOGOUT.test(path) && (readsRoute(method) || method === 'POST')) {
      if (await gate(ctx, 'logout', `logout-ip:${ctx.ip}`, limits.authorize, false)) await next();
      return;
    }
    // Registration, and RFC 7592 management of a registration: an update makes Kluis fetch the client's
    // sector_identifier_uri, so it must not be open to unlimited repetition either.
    if ((path === '/reg' && method === 'POST') || path.startsWith('/reg/')) {
      if (await gate(ctx, 'register', `register-ip:${ctx.ip}`, limits.register, true)) await next();
      return;
    }
    if (method === 'POST' && CLIENT_ENDPOINTS.has(path)) {
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
        const current = await peek(db, keys, window);
        clientCounts.learnPeek(keys, current, window);
        const over = current.find((count) => count.hits >= limits.token);
        if (over) {
          await refuse(ctx, 'token', counted.get(over.key)!, over.resetAt, over.hits + 1, limits.token, true);
          clientCounts.learn(over.key, await countHit(db, over.key, window));
          return;
        }
      }
      beforeResponse(ctx, async (status) => {
        const key = clientKey !== undefined && status >= 200 && status < 300 ? clientKey : ipKey;
        try {
          clientCounts.learn(key, await countHit(db, key, window));
        } catch (err) {
          // The answer is decided already; an uncounted hit only lets the client one request further.
          log.warn({ err, key }, 'rate-limit hit not counted');
        }
      });
      await next();
      return;
    }
    await next();
  };
}

/**
 * Runs `work` once the response's status is set but before the response leaves, whoever sends it: oidc-provider
 * writes its answers itself (it gets the raw request), after this middleware's `next()` would return, so a hit counted
 * there would race the client's next request, and a client could go past its limit by sending requests one after
 * another. Answers Koa sends (a refused DPoP proof, an error page) are held the same way.
 */
function beforeResponse(ctx: Context, work: (status: number) => Promise<void>): void {
  const res = ctx.res;
  const end = res.end;
  res.end = function deferredEnd(...args: unknown[]) {
    res.end = end;
    void work(res.statusCode).finally(() => (end as (...a: unknown[]) => unknown).apply(res, args));
    return res;
  } as typeof res.end;
}

/** How long a count this process learned stands in for a fresh read, in milliseconds. */
const FRESH_MS = 1000;

/**
 * The client-endpoint counts this process last learned from Postgres (every counted hit returns the shared count).
 * A request whose keys were all seen within FRESH_MS, with room to spare below the limit, skips the read: the
 * other processes' hits in that second are the only ones it cannot see, and the spare room (a tenth of the limit)
 * absorbs them. Near the limit, or with anything older, the read happens and the decision is exact.
 */
class RecentCounts {
  readonly #seen = new Map<string, { hits: number; resetAt: number; learnedAt: number }>();

  comfortablyBelow(keys: string[], limit: number): boolean {
    const now = Date.now();
    const spare = Math.max(2, Math.ceil(limit / 10));
    return keys.every((key) => {
      const seen = this.#seen.get(key);
      if (!seen || now - seen.learnedAt > FRESH_MS) return false;
      return seen.resetAt <= now || seen.hits + spare < limit;
    });
  }

  learn(key: string, count: { hits: number; resetAt: Date }): void {
    if (this.#seen.size > 10_000) this.#seen.clear(); // bounded: many addresses must not grow it without end
    this.#seen.set(key, { hits: count.hits, resetAt: count.resetAt.getTime(), learnedAt: Date.now() });
  }

  /** A key without a row in the current window has no hits yet. */
  learnPeek(keys: string[], counts: { key: string; hits: number; resetAt: Date }[], windowSeconds: number): void {
    for (const key of keys) {
      const count = counts.find((c) => c.key === key);
      this.learn(key, count ?? { hits: 0, resetAt: new Date(Date.now() + windowSeconds * 1000) });
    }
  }
}

async function peek(db: Database, keys: string[], windowSeconds: number) {
  const { rows } = await db.query<{ key: string; hits: number; reset_at: Date }>(
    `select key, hits, window_start + make_interval(secs => $2::float8) as reset_at from rate_limits
     where key = any($1) and window_start > now() - make_interval(secs => $2::float8)`,
    [keys, windowSeconds],
  );
  return rows.map((row) => ({ key: row.key, hits: row.hits, resetAt: row.reset_at }));
}

/**
 * Reads the body of a client endpoint request (at most MAX_BODY bytes) and hands it to oidc-provider, which uses
 * an already-read body as it is. Undefined when the body is too large.
 */
async function readBody(ctx: Context): Promise<Buffer | undefined> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > MAX_BODY) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks, size);
  (ctx.req as unknown as { body: Buffer }).body = body;
  return body;
}

/**
 * Whether the request carries anything that authenticates a client (RFC 6749 2.3): HTTP Basic, a client_secret, a
 * client assertion (RFC 7523) or a client certificate from the trusted proxy (RFC 8705). A bare client_id does not.
 */
function offersCredential(ctx: Context, params: FormParams, certificateHeader: string | undefined): boolean {
  if (/^Basic\s/i.test(ctx.get('authorization')) || (certificateHeader && ctx.get(certificateHeader))) return true;
  return params.client_secret !== undefined || params.client_assertion !== undefined;
}

type FormParams = ReturnType<typeof parse>;

/** The form parameters of a client endpoint's body, parsed once for both questions below (none for other types). */
function formParams(ctx: Context, body: Buffer): FormParams {
  return ctx.is('application/x-www-form-urlencoded') ? parse(body.toString()) : {};
}

/**
 * A claimed client_id as it goes into a counter's key: as sent up to 64 characters (Kluis's own ids are far shorter),
 * longer ones by their SHA-256, so a key has a bounded size and two long ids sharing a prefix get separate counters.
 */
function keyPart(clientId: string): string {
  return clientId.length <= 64 ? clientId : `sha256:${createHash('sha256').update(clientId).digest('base64url')}`;
}

/** The client a request claims to be (HTTP Basic, client_id, or a client assertion's issuer); not yet verified. */
function claimedClient(ctx: Context, params: FormParams): string | undefined {
  const basic = /^Basic\s+(.+)$/i.exec(ctx.get('authorization'));
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString();
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      try {
        return decodeURIComponent(decoded.slice(0, colon)).slice(0, 200);
      } catch {
        return undefined;
      }
    }
  }
  if (typeof params.client_id === 'string') return params.client_id.slice(0, 200);
  if (typeof params.client_assertion === 'string') {
    try {
      const iss = decodeJwt(params.client_assertion).iss;
      return typeof iss === 'string' ? iss.slice(0, 200) : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

import { BlockList, isIPv6, type Socket } from 'node:net';
import type { Middleware } from 'koa';

/** Headers only a proxy may write: where the request came from, how, and under which id. */
const FORWARDED_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
  'x-request-id',
];

/**
 * Forwarded headers are believed only from the proxies the operator named (TRUSTED_PROXIES), judged by the
 * connection's own remote address, which a client cannot forge. From any other peer they, and the client
 * certificate header (RFC 8705 behind TLS termination), are deleted from the raw request before Kluis or
 * oidc-provider reads it: both then see the peer's own address and plain http, so a client that reaches the port
 * directly can neither pose as an mTLS client with a public certificate nor dodge a per-address limit by writing
 * X-Forwarded-For (RFC 7239 8.1).
 */
export function proxyTrust(trustedProxies: string[], certificateHeader: string | undefined): Middleware {
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [address = '', prefix] = entry.split('/');
    const family = isIPv6(address) ? 'ipv6' : 'ipv4';
    if (prefix === undefined) trusted.addAddress(address, family);
    else trusted.addSubnet(address, Number(prefix), family);
  }
  const stripped = certificateHeader ? [...FORWARDED_HEADERS, certificateHeader.toLowerCase()] : FORWARDED_HEADERS;
  // The peer of a connection never changes: judged once per connection, not for each request a keep-alive one carries.
  const judged = new WeakMap<Socket, boolean>();
  const fromTrustedProxy = (socket: Socket): boolean => {
    let verdict = judged.get(socket);
    if (verdict === undefined) {
      const peer = socket.remoteAddress;
      // BlockList matches IPv4-mapped IPv6 peers (::ffff:a.b.c.d on a dual-stack socket) against IPv4 entries too.
      verdict = peer !== undefined && trusted.check(peer, isIPv6(peer) ? 'ipv6' : 'ipv4');
      judged.set(socket, verdict);
    }
    return verdict;
  };
  return (ctx, next) => {
    if (!fromTrustedProxy(ctx.req.socket)) {
      for (const header of stripped) delete ctx.req.headers[header];
    }
    return next();
  };
}

/**
 * With an https issuer every request (but the health probes, answered before this) must have come over TLS, i.e.
 * through a trusted proxy that said so in X-Forwarded-Proto. A request that reached the port directly, or a proxy
 * that forgot the header, gets a clear 403 instead of a session cookie Koa refuses to send over http (a 500).
 */
export function requireTls(production: boolean): Middleware {
  return (ctx, next) => {
    if (!production || ctx.secure) return next();
    ctx.status = 403;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      error: 'invalid_request',
      error_description: 'this server is reached over https, through its TLS proxy',
    };
    return undefined;
  };
}

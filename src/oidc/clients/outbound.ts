import { lookup as dnsLookup } from 'node:dns';
import { request } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { KluisError } from '../../errors.ts';

/**
 * Addresses Kluis never calls on a registrant's say-so (SSRF, OWASP ASVS 5.0 V1.3): loopback, private, link-local,
 * shared, documentation, relay and reserved ranges (IANA special-purpose registries, RFC 6890). oidc-provider guards
 * its own outbound calls the same way.
 */
const SPECIAL_USE_V4 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  SPECIAL_USE_V4.addSubnet(network, prefix, 'ipv4');

/**
 * IPv6 is judged the other way round: only global unicast (2000::/3) is public. That leaves out every form that
 * embeds an IPv4 address outside it (IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96 and 64:ff9b:1::/48), the
 * deprecated site-local fec0::/10, unique-local, link-local and multicast. Inside 2000::/3 the special-purpose
 * blocks are refused too: 2001::/23 (Teredo and IETF assignments), documentation, 6to4 (2002::/16, which embeds
 * an IPv4 address) and SRv6 SIDs.
 */
const GLOBAL_UNICAST = new BlockList();
GLOBAL_UNICAST.addSubnet('2000::', 3, 'ipv6');
const SPECIAL_USE_V6 = new BlockList();
for (const [network, prefix] of [
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['3fff::', 20],
  ['5f00::', 16],
] as const)
  SPECIAL_USE_V6.addSubnet(network, prefix, 'ipv6');

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d, however it is written), if it is one. */
function mappedIpv4(address: string): string | undefined {
  // The URL parser writes every IPv6 form canonically: ::ffff:127.0.0.1 and ::FFFF:7F00:1 both become ::ffff:7f00:1.
  const canonical = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(new URL(`http://[${address}]`).hostname);
  if (!canonical) return undefined;
  const [, highHex = '', lowHex = ''] = canonical;
  const [high, low] = [parseInt(highHex, 16), parseInt(lowHex, 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

export function isSpecialUseAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return SPECIAL_USE_V4.check(address, 'ipv4');
  // Not an address at all, or scoped to an interface (fe80::1%eth0): never a public destination.
  if (family !== 6 || address.includes('%')) return true;
  const mapped = mappedIpv4(address);
  if (mapped !== undefined) return isSpecialUseAddress(mapped);
  return !GLOBAL_UNICAST.check(address, 'ipv6') || SPECIAL_USE_V6.check(address, 'ipv6');
}

/**
 * A `lookup` for the socket itself: it resolves the name and hands the socket only public addresses, so the
 * address connected to is the address checked. Resolving first and connecting later would leave a DNS rebinding
 * window (the name answers a public address to the check and 127.0.0.1 to the connection).
 */
export function publicOnlyLookup(resolve: typeof dnsLookup = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const allowed = addresses.filter((entry) => !isSpecialUseAddress(entry.address));
      const [first] = allowed;
      if (!first) return callback(new Error(`${hostname} resolves to a special-use IP address`), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: typeof allowed) => void)(null, allowed);
      return callback(null, first.address, first.family);
    });
  };
}

export interface OutboundOptions {
  /** Refuse special-use addresses (the issuer is https); in development a developer's loopback services are fine. */
  production: boolean;
  maxBytes: number;
  timeoutMs: number;
  /** The resolver behind the socket's lookup (tests give one that answers what they need). */
  resolve?: typeof dnsLookup;
}

/** Any failure to fetch: the reason stays inside Kluis, so answers cannot be used to probe a network. */
export class OutboundFailure extends KluisError {
  override name = 'OutboundFailure';
  readonly code = 'ERR_OUTBOUND';
  override readonly status = 400;
}

/**
 * GETs a small document from an https URL a registrant named (no redirects, at most `maxBytes`, within
 * `timeoutMs`), connecting only to public addresses in production. Streams the body and aborts at the cap, so a
 * chunked answer without Content-Length cannot make Kluis read without end.
 */
export function fetchRegistrantDocument(url: URL, options: OutboundOptions): Promise<{ status: number; body: string }> {
  const { production, maxBytes, timeoutMs, resolve } = options;
  return new Promise((done, fail) => {
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    // An address literal is connected to as written, without a lookup: it is checked here instead.
    if (production && isIP(literal) && isSpecialUseAddress(literal)) {
      fail(new OutboundFailure(`${url.hostname} is a special-use IP address`));
      return;
    }
    const req = request(url, {
      method: 'GET',
      headers: { accept: 'application/json' },
      // A connection of its own: no pooled socket opened for another destination's check.
      agent: false,
      ...(production ? { lookup: publicOnlyLookup(resolve) } : {}),
    });
    const deadline = setTimeout(() => req.destroy(new OutboundFailure(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err: Error | undefined, result?: { status: number; body: string }) => {
      clearTimeout(deadline);
      if (err) fail(err instanceof OutboundFailure ? err : new OutboundFailure(err.message, { cause: err }));
      else if (result) done(result);
    };
    req.once('error', (err) => finish(err));
    req.once('response', (res) => {
      const peer = res.socket.remoteAddress;
      // Belt and braces: whatever path the connection took, the peer it reached must be public.
      if (production && (peer === undefined || isSpecialUseAddress(peer))) {
        req.destroy(new OutboundFailure('connected to a special-use IP address'));
        return;
      }
      if (Number(res.headers['content-length'] ?? 0) > maxBytes) {
        req.destroy(new OutboundFailure(`announced more than ${maxBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) req.destroy(new OutboundFailure(`sent more than ${maxBytes} bytes`));
        else chunks.push(chunk);
      });
      res.once('error', (err) => finish(err));
      res.once('end', () => {
        finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end();
  });
}

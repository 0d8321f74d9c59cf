import { BlockList, isIP } from 'node:net';
import { ConfigError } from './config-error.ts';

/** What TRUST_PROXY=true alone trusts: a proxy on this host. */
const LOOPBACK_PROXIES = ['127.0.0.1', '::1'];

/**
 * TRUSTED_PROXIES: comma-separated addresses or CIDR ranges. Setting it turns proxy trust on; TRUST_PROXY=true without
 * it trusts loopback only. A range so wide that it cannot be a set of proxies is refused: forwarded headers from
 * everyone are forged headers (a client could claim any address or certificate). IPv4 ranges must be /8 or narrower
 * and IPv6 ranges /16 or narrower; and because an IPv4 peer is matched against IPv4-mapped entries (::ffff:0:0/96,
 * RFC 4291 2.5.5.2), an IPv6 range that reaches into that block must be /104 or narrower (an IPv4 /8): `::/1` or
 * `::ffff:0:0/96` would trust every IPv4 peer.
 */
export function parseTrustedProxies(value: string | undefined, trustProxy: boolean | undefined): string[] {
  if (value === undefined) return trustProxy ? LOOPBACK_PROXIES : [];
  if (trustProxy === false) throw new ConfigError('TRUSTED_PROXIES is set but TRUST_PROXY=false: remove one of them');
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) {
    throw new ConfigError('TRUSTED_PROXIES must list proxy addresses or CIDR ranges, e.g. 10.0.0.5,fd00::/64');
  }
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = family === 6 ? 128 : 32;
    const valid =
      family !== 0 &&
      extra === undefined &&
      (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits));
    if (!valid) {
      throw new ConfigError(
        `TRUSTED_PROXIES: ${JSON.stringify(entry)} is not an IP address or CIDR range ` +
          `with a prefix of 0-${bits} bits (e.g. 10.0.0.5 or 10.0.0.0/24)`,
      );
    }
    const length = prefix === undefined ? bits : Number(prefix);
    if (length < (family === 4 ? 8 : 16) || (family === 6 && length < 104 && reachesIpv4Mapped(address, length))) {
      throw new ConfigError(
        `TRUSTED_PROXIES: ${JSON.stringify(entry)} is too wide a range to be proxies: ` +
          'use /8 or narrower for IPv4, /16 for IPv6 and /104 within ::ffff:0:0/96',
      );
    }
  }
  return entries;
}

/** Whether the IPv6 range `address`/`length` shares addresses with the IPv4-mapped block ::ffff:0:0/96. */
function reachesIpv4Mapped(address: string, length: number): boolean {
  const range = new BlockList();
  if (length <= 96) {
    range.addSubnet(address, length, 'ipv6');
    return range.check('::ffff:0:0', 'ipv6');
  }
  range.addSubnet('::ffff:0:0', 96, 'ipv6');
  return range.check(address, 'ipv6');
}

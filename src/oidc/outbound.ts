import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Addresses Kluis never calls on a registrant's say-so (SSRF, OWASP ASVS 5.0 V1.3): loopback, private, link-local,
 * shared, documentation and reserved ranges. oidc-provider guards its own outbound calls the same way.
 */
const SPECIAL_USE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) SPECIAL_USE.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 127], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) SPECIAL_USE.addSubnet(network, prefix, 'ipv6');

export function isSpecialUseAddress(address: string): boolean {
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged by its IPv4 address. (A mapped rule in the BlockList
  // would match every IPv4 address.)
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isSpecialUseAddress(mapped[1]!);
  const family = isIP(address);
  return family !== 0 && SPECIAL_USE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Refuses a URL whose host is, or resolves to, a special-use address. Kluis calls it before fetching what a client
 * registered (sector_identifier_uri) when the issuer is https; in development loopback services are allowed.
 */
export async function assertPublicHost(url: URL): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((entry) => entry.address);
  if (addresses.some(isSpecialUseAddress)) throw new Error(`${url.hostname} resolves to a special-use IP address`);
}

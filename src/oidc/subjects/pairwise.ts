import { createHmac, createSecretKey } from 'node:crypto';
import { isIP } from 'node:net';
import type { Client, KoaContextWithOIDC } from 'oidc-provider';
import { isSpecialUseAddress } from '../clients/outbound.ts';

/**
 * Names that only ever mean something inside one device or network: localhost (RFC 6761 6.3), mDNS .local
 * (RFC 6762), .home.arpa (RFC 8375) and .internal (reserved for private use by ICANN, 2024).
 */
const NON_PUBLIC_NAME = /(^|\.)(localhost|local|home\.arpa|internal)$/;

/**
 * A host that names nobody in particular: a non-public name, or an address literal that is not public (loopback,
 * unspecified 0.0.0.0 and [::], private, link-local, ...: {@link isSpecialUseAddress}). Whoever runs an app on the
 * same device or network can receive redirects to it, so a sector on it would be shared by unrelated clients.
 */
function namesNobody(host: string): boolean {
  const literal = host.replace(/^\[|\]$/g, '');
  return NON_PUBLIC_NAME.test(host) || (isIP(literal) !== 0 && isSpecialUseAddress(literal));
}

/** The host as a sector: `bank.example.` (fully qualified, with the root's dot) is the same party as `bank.example`. */
const withoutRootDot = (host: string) => host.replace(/\.$/, '');

/**
 * The client's sector (OIDC Core 8.1): the host of its sector_identifier_uri, else of its redirect URI, because a
 * host names the party that runs it. A loopback or other non-public host names nobody: every native app on every
 * device redirects to 127.0.0.1 (RFC 8252 7.3), and a private-use scheme (RFC 8252 7.1) is whatever the app says.
 * For those the client itself is the sector, so unrelated apps never share a `sub`. A client without redirect URIs
 * (machine-to-machine) is its own sector too.
 */
export function sectorOf(client: Client): string {
  const own = `client:${client.clientId}`;
  // oidc-provider's own derivation; its typings leave the getter out.
  const hostSector = () => {
    const host = (client as { sectorIdentifier?: string }).sectorIdentifier;
    return host === undefined ? own : withoutRootDot(host);
  };
  if (client.sectorIdentifierUri !== undefined) return hostSector();
  const redirect = client.redirectUris?.[0];
  if (redirect === undefined || !URL.canParse(redirect)) return own;
  const url = new URL(redirect);
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || namesNobody(withoutRootDot(url.hostname))) return own;
  return hostSector();
}

/**
 * Pairwise subject identifiers (OIDC Core 8.1): HMAC-SHA256 under a server secret over the client's sector and the
 * account id. Clients of one sector see one value; other sectors see values nobody can link without the secret;
 * the value never changes for a given pair. oidc-provider uses it for ID tokens, userinfo, introspection, JWT
 * access tokens and logout tokens alike.
 */
export function pairwiseSubject(salt: string) {
  // The same key bytes as the salt string (UTF-8), made into a KeyObject once: far cheaper per HMAC than a string key.
  const key = createSecretKey(Buffer.from(salt, 'utf8'));
  return async (_ctx: KoaContextWithOIDC, accountId: string, client: Client): Promise<string> =>
    createHmac('sha256', key)
      .update(`${sectorOf(client)}\n${accountId}`)
      .digest('base64url');
}

import { createHmac } from 'node:crypto';
import type { Client, KoaContextWithOIDC } from 'oidc-provider';

/** Loopback hosts as they appear in a parsed URL's hostname (IPv6 in brackets, canonical form). */
const LOOPBACK = /^(localhost|.+\.localhost|127(\.\d{1,3}){3}|\[::1\]|\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\])$/i;

/**
 * The client's sector (OIDC Core 8.1): the host of its sector_identifier_uri, else of its redirect URI, because a
 * host names the party that runs it. A loopback host names nobody: every native app on every device redirects to
 * 127.0.0.1 (RFC 8252 7.3), and a private-use scheme (RFC 8252 7.1) is whatever the app says. For those the
 * client itself is the sector, so unrelated apps never share a `sub`. A client without redirect URIs
 * (machine-to-machine) is its own sector too.
 */
export function sectorOf(client: Client): string {
  const own = `client:${client.clientId}`;
  // oidc-provider's own derivation; its typings leave the getter out.
  const hostSector = () => (client as { sectorIdentifier?: string }).sectorIdentifier ?? own;
  if (client.sectorIdentifierUri !== undefined) return hostSector();
  const redirect = client.redirectUris?.[0];
  if (redirect === undefined || !URL.canParse(redirect)) return own;
  const url = new URL(redirect);
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || LOOPBACK.test(url.hostname)) return own;
  return hostSector();
}

/**
 * Pairwise subject identifiers (OIDC Core 8.1): HMAC-SHA256 under a server secret over the client's sector and the
 * account id. Clients of one sector see one value; other sectors see values nobody can link without the secret;
 * the value never changes for a given pair. oidc-provider uses it for ID tokens, userinfo, introspection, JWT
 * access tokens and logout tokens alike.
 */
export function pairwiseSubject(salt: string) {
  return async (_ctx: KoaContextWithOIDC, accountId: string, client: Client): Promise<string> =>
    createHmac('sha256', salt).update(`${sectorOf(client)}\n${accountId}`).digest('base64url');
}

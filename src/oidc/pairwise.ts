import { createHmac } from 'node:crypto';
import type { Client, KoaContextWithOIDC } from 'oidc-provider';

/**
 * Pairwise subject identifiers (OIDC Core 8.1): HMAC-SHA256 under a server secret over the client's sector and the
 * account id. Clients of one sector see one value; other sectors see values nobody can link without the secret;
 * the value never changes for a given pair. oidc-provider uses it for ID tokens, userinfo, introspection, JWT
 * access tokens and logout tokens alike.
 */
export function pairwiseSubject(salt: string) {
  return async (_ctx: KoaContextWithOIDC, accountId: string, client: Client): Promise<string> => {
    // A client without redirect URIs (machine-to-machine) has no sector; its own id stands in.
    const sector = client.sectorIdentifier ?? client.clientId;
    return createHmac('sha256', salt).update(`${sector}\n${accountId}`).digest('base64url');
  };
}

import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { clientDeps, openContext } from '../../src/cli/context.ts';
import { addClient } from '../../src/clients/add.ts';

/** Registers a client with the command `kluis clients add` runs, in this process. */
export async function registerClient(
  databaseUrl: string,
  metadata: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<AdapterPayload> {
  const ctx = await openContext({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', ...env });
  try {
    return await addClient(await clientDeps(ctx), metadata);
  } finally {
    await ctx.connection.close();
  }
}

export const M2M_METADATA = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };

/** openid-client as a relying party of `issuer`, authenticating with client_secret_basic. */
export async function relyingParty(issuer: string, client: AdapterPayload): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(issuer),
    String(client.client_id),
    undefined,
    oidc.ClientSecretBasic(String(client.client_secret)),
    {
      execute: [oidc.allowInsecureRequests],
    },
  );
}

import { PgClientControlStore } from '../db/client-controls.ts';
import { listClientMetadata } from '../db/client-registry.ts';
import type { ClientDeps, Metadata } from './deps.ts';
import { findClient } from './store.ts';

/** Every client with its status and the fields an operator scans for; never a secret. */
export async function listClients({ db }: Pick<ClientDeps, 'db'>): Promise<Metadata[]> {
  const [clients, disabled] = await Promise.all([listClientMetadata(db), new PgClientControlStore(db).disabledIds()]);
  return clients.map((client) => ({
    client_id: client.client_id,
    client_name: client.client_name,
    status: disabled.has(String(client.client_id)) ? 'disabled' : 'active',
    subject_type: client.subject_type,
    fapi_profile: client.fapi_profile ?? null,
    grant_types: client.grant_types,
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    redirect_uris: client.redirect_uris,
  }));
}

/** The stored metadata without the secret (it is shown once, at creation). */
export async function showClient({ db, box }: Pick<ClientDeps, 'db' | 'box'>, clientId: string): Promise<Metadata> {
  const { client_secret: _secret, ...metadata } = await findClient(db, box, clientId);
  return metadata;
}

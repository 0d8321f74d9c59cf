import type { AdapterPayload, Provider } from 'oidc-provider';
import type { Database } from '../../db/database.ts';
import { PostgresAdapter } from '../../db/oidc-adapter.ts';
import type { SecretBox } from '../../secrets/secret-box.ts';

/** What is used of the ProviderHost: the clients room does not import the host, which imports the clients room. */
export interface HasProvider {
  readonly provider: Provider;
}

/**
 * Writes a client Kluis manages itself (the account area's, the demo's), validated by oidc-provider like any other.
 * Rewritten at every start so its redirect URIs follow ISSUER; the first issue time is kept. Returns whether it is new.
 */
export async function writeManagedClient(
  host: HasProvider,
  db: Database,
  box: SecretBox,
  metadata: AdapterPayload,
): Promise<boolean> {
  const clientId = String(metadata.client_id);
  const stored = new (host.provider.Client as unknown as new (m: AdapterPayload) => { metadata(): AdapterPayload })(
    metadata,
  ).metadata();
  const clients = new PostgresAdapter('Client', db, box, { includeDisabled: true });
  const existing = await clients.find(clientId);
  await clients.upsert(clientId, {
    ...stored,
    client_id_issued_at: existing?.client_id_issued_at ?? Math.floor(Date.now() / 1000),
  });
  return !existing;
}

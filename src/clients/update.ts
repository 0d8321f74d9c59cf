import type { ClientDeps, Metadata } from './deps.ts';
import { InvalidMetadata, ReservedClient } from './errors.ts';
import { KLUIS_CLIENT_IDS } from './kluis-clients.ts';
import { validatedClient } from './metadata.ts';
import { clientStore, findClient } from './store.ts';

/**
 * Merges the given metadata into the stored client (a field set to null is removed) and validates the result like
 * a new registration. The id and secret cannot be changed here. Returns the client without its secret.
 */
export async function updateClient(
  { db, box, audit, provider, production }: ClientDeps,
  clientId: string,
  changes: Metadata,
): Promise<Metadata> {
  for (const field of ['client_id', 'client_secret', 'client_id_issued_at']) {
    if (field in changes) {
      throw new InvalidMetadata(
        `${field} cannot be changed${field === 'client_secret' ? '; use clients rotate-secret' : ''}`,
      );
    }
  }
  if (KLUIS_CLIENT_IDS.includes(clientId)) {
    throw new ReservedClient(`${clientId} is Kluis's own client: Kluis rewrites it at every start`);
  }
  const stored = await findClient(db, box, clientId);
  const merged: Metadata = { ...stored };
  for (const [field, value] of Object.entries(changes)) {
    if (value === null) delete merged[field];
    else merged[field] = value;
  }
  const validated = await validatedClient(provider, merged, production);
  await clientStore(db, box).upsert(clientId, validated);
  await audit.record({
    type: 'client.updated',
    actor: 'operator',
    clientId,
    details: { fields: Object.keys(changes).sort() },
  });
  const { client_secret: _secret, ...shown } = validated;
  return shown;
}

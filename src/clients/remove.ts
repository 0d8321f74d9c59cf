import { removeClientWithArtefacts } from '../db/client-registry.ts';
import type { ClientDeps } from './deps.ts';
import { ClientNotFound } from './errors.ts';

/** Removes the client and everything issued to it: codes, tokens, grants (so nothing it holds keeps working). */
export async function removeClient(
  { db, audit }: Pick<ClientDeps, 'db' | 'audit'>,
  clientId: string,
): Promise<{ removed: string; artefacts_revoked: number }> {
  const revoked = await removeClientWithArtefacts(db, clientId);
  if (revoked === undefined) throw new ClientNotFound(clientId);
  await audit.record({ type: 'client.removed', actor: 'operator', clientId, details: { artefacts_revoked: revoked } });
  return { removed: clientId, artefacts_revoked: revoked };
}

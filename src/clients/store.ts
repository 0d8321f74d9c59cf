import type { AdapterPayload } from 'oidc-provider';
import type { Queryable } from '../db/database.ts';
import { PostgresAdapter } from '../db/oidc-adapter.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { ClientNotFound } from './errors.ts';

/** The client store as the operator sees it: disabled clients included, so they can be shown, updated or enabled. */
export function clientStore(db: Queryable, box: SecretBox): PostgresAdapter {
  return new PostgresAdapter('Client', db, box, { includeDisabled: true });
}

export async function findClient(db: Queryable, box: SecretBox, clientId: string): Promise<AdapterPayload> {
  const stored = await clientStore(db, box).find(clientId);
  if (!stored) throw new ClientNotFound(clientId);
  return stored;
}

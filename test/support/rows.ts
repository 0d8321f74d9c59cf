import type { Database } from '../../src/db/database.ts';
import { storedId } from '../../src/db/oidc-adapter.ts';
import { loadServerSecrets } from '../../src/secrets/server-secrets.ts';

/**
 * The `oidc_models.id` under which Kluis stores `model`'s instance `id` (a keyed hash for bearer values), for tests
 * that look at or change a row directly. `secret`: the KLUIS_SECRET the database was set up with, if any.
 */
export async function storedRowId(db: Database, model: string, id: string, secret?: string): Promise<string> {
  const { box } = await loadServerSecrets(db, { secret, production: false });
  return storedId(box, model, id);
}

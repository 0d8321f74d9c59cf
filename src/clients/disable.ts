import { PgClientControlStore } from '../db/client-controls.ts';
import type { ClientDeps } from './deps.ts';
import { findClient } from './store.ts';

type Deps = Pick<ClientDeps, 'db' | 'box' | 'audit'>;

/**
 * The client can no longer authenticate or be used, and its codes and tokens are revoked (they introspect as
 * inactive); its grants and registration access token stay. A suspension: `enableClient` lifts it.
 */
export async function disableClient({ db, box, audit }: Deps, clientId: string) {
  await findClient(db, box, clientId);
  if (await new PgClientControlStore(db).disable(clientId)) {
    await audit.record({ type: 'client.disabled', actor: 'operator', clientId });
  }
  return { client_id: clientId, status: 'disabled' };
}

export async function enableClient({ db, box, audit }: Deps, clientId: string) {
  await findClient(db, box, clientId);
  if (await new PgClientControlStore(db).enable(clientId)) {
    await audit.record({ type: 'client.enabled', actor: 'operator', clientId });
  }
  return { client_id: clientId, status: 'active' };
}

import { PgClientControlStore } from '../db/client-controls.ts';
import { CLIENT_SECRET_PURPOSE } from '../db/oidc-payloads.ts';
import type { ClientDeps } from './deps.ts';
import { ClientWithoutSecret } from './errors.ts';
import { newSecret } from './metadata.ts';
import { clientStore, findClient } from './store.ts';

/**
 * A new secret now; the old one keeps working for `graceSeconds` (the operator's CLIENT_SECRET_ROTATION_GRACE unless
 * chosen otherwise), so the client can switch without downtime. The new secret is shown this once.
 */
export async function rotateClientSecret(
  { db, box, audit }: Pick<ClientDeps, 'db' | 'box' | 'audit'>,
  clientId: string,
  graceSeconds: number,
) {
  const stored = await findClient(db, box, clientId);
  if (typeof stored.client_secret !== 'string') {
    throw new ClientWithoutSecret(
      `client ${clientId} has no secret (it authenticates with ${String(stored.token_endpoint_auth_method)})`,
    );
  }
  const previous = stored.client_secret;
  const secret = newSecret();
  await db.transaction(async (tx) => {
    const sealed = box.encrypt(previous, CLIENT_SECRET_PURPOSE);
    await new PgClientControlStore(tx).keepPreviousSecret(clientId, sealed, graceSeconds);
    await clientStore(tx, box).upsert(clientId, { ...stored, client_secret: secret });
  });
  const previousValidUntil = new Date(Date.now() + graceSeconds * 1000).toISOString();
  await audit.record({
    type: 'client.secret_rotated',
    actor: 'operator',
    clientId,
    details: { grace_seconds: graceSeconds },
  });
  return {
    client_id: clientId,
    client_secret: secret,
    previous_secret_valid_until: graceSeconds > 0 ? previousValidUntil : null,
  };
}

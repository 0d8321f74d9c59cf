import { ConsentNotFound, consentRecord } from '../consents/consents.ts';
import { personNamed, type PeopleDeps } from './deps.ts';

type Deps = Pick<PeopleDeps, 'accounts' | 'consents'>;

/** Every live consent of the person, per client. */
export async function listConsentsOf({ accounts, consents }: Deps, username: string) {
  const { id } = await personNamed(accounts, username);
  return (await consents.list(id)).map(consentRecord);
}

/** Withdraws one client's consent, or all of them, as if the person did, recorded as the operator's doing. */
export async function revokeConsentsOf({ accounts, consents }: Deps, username: string, clientId?: string) {
  const { id } = await personNamed(accounts, username);
  const targets = (await consents.list(id)).filter(
    (consent) => clientId === undefined || consent.clientId === clientId,
  );
  if (clientId !== undefined && targets.length === 0)
    throw new ConsentNotFound(`${username} has no consent for client ${clientId}`);
  for (const consent of targets) await consents.revoke(id, consent.id, { channel: 'operator' });
  return { revoked: targets.map((consent) => ({ grant_id: consent.id, client_id: consent.clientId })) };
}

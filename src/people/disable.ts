import type { AuditLog } from '../audit/writer.ts';
import type { Consents } from '../consents/consents.ts';
import type { AccountRecords } from '../db/account-store.ts';
import type { Database } from '../db/database.ts';
import { PgGrantStore } from '../db/grants.ts';
import { personNamed, type PeopleDeps } from './deps.ts';

/**
 * Disables a person's account and ends everything it holds. The status changes first, so no token is issued for
 * the account while its grants are being revoked (oidc-provider finds no disabled account at the token endpoint);
 * then every consent is revoked as an operator withdrawal (ledger, audit, back-channel logout), and every session,
 * interaction and the account area's own grant go with their tokens.
 */
async function disableAccount(
  deps: { db: Database; accounts: Pick<AccountRecords, 'setStatus'>; consents: Consents; audit: AuditLog },
  accountId: string,
): Promise<{ consentsRevoked: number; artefactsRemoved: number }> {
  await deps.accounts.setStatus(accountId, 'disabled');
  const { consentsRevoked, artefactsRemoved } = await endEverything(deps, accountId);
  await deps.audit.record({
    type: 'account.disabled',
    actor: 'operator',
    accountId,
    details: { consents_revoked: consentsRevoked, artefacts_removed: artefactsRemoved },
  });
  return { consentsRevoked, artefactsRemoved };
}

/**
 * What the operator's `users disable` and `users reset-mfa` both end: every consent, revoked as an operator
 * withdrawal (ledger, audit, back-channel logout), then every session, interaction (also a sign-in or enrolment under
 * way) and token of the person, the account area's own grant included.
 */
export async function endEverything(
  deps: { db: Database; consents: Consents },
  accountId: string,
): Promise<{ consentsRevoked: number; artefactsRemoved: number }> {
  const consentsRevoked = await deps.consents.revokeAll(accountId, { channel: 'operator' });
  const artefactsRemoved = await new PgGrantStore(deps.db).deleteAccountArtefacts(accountId);
  return { consentsRevoked, artefactsRemoved };
}

/** The operator's `users disable USERNAME`: sign-in refused from now on; every consent, session and token ends. */
export async function disablePerson(
  deps: Pick<PeopleDeps, 'db' | 'accounts' | 'consents' | 'audit'>,
  username: string,
) {
  const { id } = await personNamed(deps.accounts, username);
  const { consentsRevoked } = await disableAccount(deps, id);
  return { username, status: 'disabled', consents_revoked: consentsRevoked };
}

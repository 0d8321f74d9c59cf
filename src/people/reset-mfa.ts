import { issueActivationCode } from '../auth/activation-codes.ts';
import { PgAccountStore } from '../db/account-store.ts';
import { personNamed, type PeopleDeps } from './deps.ts';
import { endEverything } from './disable.ts';

/**
 * Removes the TOTP secret and recovery codes and issues a new activation code (replacing any earlier one); the
 * person enrols a new authenticator at the next sign-in with password and that code. The old authenticator is no
 * longer trusted (it may be someone else's, e.g. enrolled with the password alone before activation codes existed),
 * so, as with disabling, every consent is revoked and every session, interaction and token of the person ends:
 * whoever held it keeps nothing they got with it.
 */
export async function resetMfa({ db, accounts, secrets, audit, consents, config }: PeopleDeps, username: string) {
  const { id } = await personNamed(accounts, username);
  const activation = await db.transaction(async (tx) => {
    const store = new PgAccountStore(tx);
    await store.resetMfa(id);
    return issueActivationCode(store, secrets.box, id, config.sca.activationCodeTtl);
  });
  const { consentsRevoked, artefactsRemoved } = await endEverything({ db, consents }, id);
  await audit.record({
    type: 'mfa.reset',
    actor: 'operator',
    accountId: id,
    details: { activation_code: true, consents_revoked: consentsRevoked, artefacts_removed: artefactsRemoved },
  });
  await accounts.recordSecurityEvent(id, 'mfa.reset');
  return {
    username,
    mfa: 'awaiting activation',
    activation_code: activation.code,
    activation_code_expires_at: activation.expiresAt.toISOString(),
    consents_revoked: consentsRevoked,
  };
}

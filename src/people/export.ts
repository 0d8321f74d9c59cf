import { consentRecord, type Consents } from '../consents/consents.ts';
import type { AccountRecord, SecondFactors, SecurityActivity } from '../db/account-store.ts';

/**
 * GDPR Art 15 and 20: everything Kluis holds about the person, in one machine-readable document. Secrets
 * (password hash, TOTP secret, recovery code hashes) are described, not exported.
 */
export async function exportPersonalData(
  accounts: Pick<SecondFactors, 'unusedRecoveryCodes'> & Pick<SecurityActivity, 'securityEventsFor'>,
  consents: Consents,
  account: AccountRecord,
) {
  const [current, history, activity, recoveryCodesLeft] = await Promise.all([
    consents.list(account.id),
    consents.history(account.id),
    accounts.securityEventsFor(account.id, 1000),
    accounts.unusedRecoveryCodes(account.id),
  ]);
  return {
    exported_at: new Date().toISOString(),
    profile: {
      account_id: account.id,
      username: account.username,
      email: account.email,
      claims: account.claims,
      status: account.status,
      created_at: account.createdAt.toISOString(),
    },
    authentication: {
      password: 'set (stored as an argon2id hash)',
      totp: account.totpSecretEncrypted ? 'enrolled' : 'not enrolled',
      recovery_codes_unused: recoveryCodesLeft,
    },
    consents: current.map(consentRecord),
    consent_history: history.map((entry) => ({
      at: entry.occurredAt.toISOString(),
      action: entry.action,
      channel: entry.channel,
      client_id: entry.clientId,
      client_name: entry.clientName,
      scopes: entry.scopes,
      claims: entry.claims,
      resources: entry.resources,
      authorization_details: entry.authorizationDetails,
    })),
    security_activity: activity.map((event) => ({
      at: event.occurredAt.toISOString(),
      event: event.type,
      ip: event.ip,
      device: event.device,
    })),
  };
}

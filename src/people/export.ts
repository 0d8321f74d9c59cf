import { consentRecord, type Consents } from '../consents/consents.ts';
import type { Database } from '../db/database.ts';
import type { AccountRecord } from '../db/accounts.ts';
import { unusedRecoveryCodes } from '../db/second-factors.ts';
import { securityEventsFor } from '../db/security-events.ts';

/**
 * GDPR Art 15 and 20: everything Kluis holds about the person, in one machine-readable document. Secrets
 * (password hash, TOTP secret, recovery code hashes) are described, not exported.
 */
export async function exportPersonalData(db: Database, consents: Consents, account: AccountRecord) {
  const [current, history, activity, recoveryCodesLeft] = await Promise.all([
    consents.list(account.id),
    consents.history(account.id),
    securityEventsFor(db, account.id, 1000),
    unusedRecoveryCodes(db, account.id),
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
    })),
    security_activity: activity.map((event) => ({
      at: event.occurredAt.toISOString(),
      event: event.type,
      ip: event.ip,
      device: event.device,
    })),
  };
}

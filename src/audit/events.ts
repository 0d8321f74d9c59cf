/**
 * The closed catalogue of audit events. Adding a type is a code change, reviewed like one; the log never
 * holds free-form event names. No event carries a secret or a token value.
 */
export const AUDIT_EVENT_TYPES = [
  'token.issued',
  'token.revoked',
  'token.consumed',
  'grant.revoked',
  'client.created',
  'client.removed',
  'client.updated',
  'client.disabled',
  'client.enabled',
  'client.secret_rotated',
  'initial_access_token.created',
  'key.generated',
  'key.rotated',
  'server.error',
  'rate_limit.exceeded',
  'account.created',
  'account.disabled',
  'account.unlocked',
  'account.locked',
  'login.succeeded',
  'login.failed',
  'login.throttled',
  'mfa.enrolled',
  'mfa.reset',
  'mfa.recovery_codes_regenerated',
  'account.deleted',
  'account.exported',
  'recovery_code.used',
  'consent.granted',
  'consent.denied',
  // "Not you?" on the consent page: the person signed in left the consent to whoever signs in next.
  'consent.switched',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Who caused the event: an OAuth client, a person (signed in, or not yet known), the operator at the CLI, or Kluis. */
export type Actor = `client:${string}` | `account:${string}` | 'anonymous' | 'operator' | 'system';

export interface AuditEvent {
  type: AuditEventType;
  actor: Actor;
  clientId?: string | undefined;
  accountId?: string | undefined;
  grantId?: string | undefined;
  details?: Record<string, string | number | boolean | null | string[]>;
}

import type { Queryable } from './database.ts';

export type SecurityEventType =
  | 'login.succeeded'
  | 'login.failed'
  | 'account.locked'
  | 'account.unlocked'
  | 'mfa.enrolled'
  | 'mfa.reset'
  | 'recovery_codes.regenerated'
  | 'recovery_code.used'
  | 'activation_code.used';

export interface SecurityEvent {
  occurredAt: Date;
  type: SecurityEventType;
  ip: string | null;
  device: string | null;
}

export async function recordSecurityEvent(
  db: Queryable,
  accountId: string,
  type: SecurityEventType,
  where: { ip?: string | undefined; device?: string | undefined } = {},
): Promise<void> {
  await db.query('insert into security_events (account_id, type, ip, device) values ($1, $2, $3, $4)', [
    accountId,
    type,
    where.ip ?? null,
    where.device ?? null,
  ]);
}

export async function securityEventsFor(db: Queryable, accountId: string, limit = 50): Promise<SecurityEvent[]> {
  const { rows } = await db.query<{
    occurred_at: Date;
    type: SecurityEventType;
    ip: string | null;
    device: string | null;
  }>('select occurred_at, type, ip, device from security_events where account_id = $1 order by id desc limit $2', [
    accountId,
    limit,
  ]);
  return rows.map((row) => ({ occurredAt: row.occurred_at, type: row.type, ip: row.ip, device: row.device }));
}

import { type AccountRecord, type AccountRow, toAccountRecord } from './accounts.ts';
import type { Queryable } from './database.ts';
import type { SecurityEventType } from './security-events.ts';

export interface LockoutPolicy {
  threshold: number;
  baseSeconds: number;
  maxSeconds: number;
}

/** What reserving an attempt found: the account (if any), and whether this attempt may be judged. */
export interface Reservation {
  /** False when the address has used up its failed sign-ins for the window: nothing else was done. */
  ipAllowed: boolean;
  account: AccountRecord | undefined;
  /** The account was active, not locked, and this attempt is counted: only then may the factors be judged. */
  reserved: boolean;
  /** The attempt's place among those since the last success or lockout, 1 to the threshold (null if not reserved). */
  attempt: number | null;
  /** This attempt reached the threshold: the account is locked from now on unless the attempt succeeds. */
  lockedUntil: Date | null;
  /** The account's lockouts after this attempt (null if not reserved), counting this lock if it set one. */
  lockouts: number | null;
  /** The security-activity row recording this attempt as failed, turned into a success if it is one. */
  eventId: string | null;
}

/**
 * The lockouts that still count towards the next lock's length: none once the last lock ended more than
 * `LOCKOUT_MAX_DURATION` ($8) ago, so the doubling decays after a quiet period (checklist B1: a victim is not
 * lockable for ever longer). The exponent is capped at 30 (2^30 lock lengths far exceed any maximum): with more,
 * float8 overflows and the statement fails, and the account then answered 500 even to the right credentials.
 */
const RECENT_LOCKOUTS = `(case when locked_until > now() - make_interval(secs => $8::float8) then lockouts else 0 end)`;

/**
 * Reserves one sign-in attempt before anything is judged (issue 13: parallel requests must not outrun the lockout),
 * in one statement: the address's failure count goes up unless it is at `ipLimit` (else nothing happens); the
 * account's goes up unless it is disabled or locked, and the attempt that reaches `threshold` locks it for
 * `baseSeconds * 2^(recent lockouts)`, capped at `maxSeconds`, while it is still being judged; a reserved attempt
 * is entered in the person's security activity as failed (a refused one is not: while an account is locked, each
 * refused guess would add a row, and the lock itself is recorded once as `account.locked`). Every attempt counts as
 * a failure until {@link attemptSucceeded} says otherwise, so a crash mid-judgement leaves it counted. The
 * statement is the same for unknown accounts (`accountId` null).
 */
export async function reserveAttempt(
  db: Queryable,
  accountId: string | null,
  origin: { ip: string; device: string | null },
  policy: { lockout: LockoutPolicy; ipLimit: { failures: number; windowSeconds: number } },
): Promise<Reservation> {
  const { threshold, baseSeconds, maxSeconds } = policy.lockout;
  type Reserved = { ip_allowed: boolean; reserved: boolean; locks_until: Date | null; attempt: number | null };
  const { rows } = await db.query<AccountRow & Reserved & { lockouts_now: number | null; event_id: string | null }>(
    `with ip as (
       insert into login_failures_by_ip as f (ip, window_start, failures) values ($2, now(), 1)
       on conflict (ip) do update set
         failures = case when f.window_start < now() - make_interval(secs => $4::float8) then 1 else f.failures + 1 end,
         window_start = case when f.window_start < now() - make_interval(secs => $4::float8)
           then now() else f.window_start end
       where f.window_start < now() - make_interval(secs => $4::float8) or f.failures < $5
       returning 1
     ), reserved as (
       update accounts set
         failed_attempts = case when failed_attempts + 1 >= $6 then 0 else failed_attempts + 1 end,
         lockouts = case when failed_attempts + 1 >= $6 then ${RECENT_LOCKOUTS} + 1 else lockouts end,
         locked_until = case when failed_attempts + 1 >= $6
           then now() + make_interval(secs => least($8::float8, $7::float8 * power(2, least(${RECENT_LOCKOUTS}, 30))))
           else locked_until end,
         updated_at = now()
       where id = $1 and status = 'active' and (locked_until is null or locked_until <= now())
         and exists (select 1 from ip)
       returning id, case when locked_until > now() then locked_until end as locks_until,
         case when locked_until > now() then $6 else failed_attempts end as attempt, lockouts as lockouts_now
     ), event as (
       insert into security_events (account_id, type, ip, device)
       select id, 'login.failed', $2, $3 from reserved
       returning id
     )
     select exists (select 1 from ip) as ip_allowed, a.*, r.id is not null as reserved, r.locks_until, r.attempt,
       r.lockouts_now, e.id::text as event_id
     from (select 1) as one
     left join accounts a on a.id = $1
     left join reserved r on true
     left join event e on true`,
    [
      accountId ?? '',
      origin.ip,
      origin.device,
      policy.ipLimit.windowSeconds,
      policy.ipLimit.failures,
      threshold,
      baseSeconds,
      maxSeconds,
    ],
  );
  const row = rows[0]!;
  return {
    ipAllowed: row.ip_allowed,
    account: row.id ? toAccountRecord(row) : undefined,
    reserved: row.reserved,
    attempt: row.attempt,
    lockedUntil: row.locks_until,
    lockouts: row.lockouts_now,
    eventId: row.event_id,
  };
}

/**
 * A reserved attempt that was judged right: the account's failures (and a lock this very burst of attempts set) are
 * cleared, the address gets its reserved failure back, and the security-activity row becomes `eventType`.
 */
export async function attemptSucceeded(
  db: Queryable,
  accountId: string,
  ip: string,
  eventId: string | null,
  eventType: SecurityEventType,
): Promise<void> {
  await db.query(
    `with account as (
       update accounts set failed_attempts = 0, lockouts = 0, locked_until = null, updated_at = now() where id = $1
     ), address as (
       update login_failures_by_ip set failures = greatest(failures - 1, 0) where ip = $2
     )
     update security_events set type = $4 where id = $3::bigint and account_id = $1`,
    [accountId, ip, eventId, eventType],
  );
}

/** The operator's unlock: the next lock starts again at `LOCKOUT_DURATION`. */
export async function unlock(db: Queryable, id: string): Promise<void> {
  await db.query(
    `update accounts set failed_attempts = 0, lockouts = 0, locked_until = null, updated_at = now() where id = $1`,
    [id],
  );
}

export async function ipFailures(db: Queryable, ip: string, windowSeconds: number): Promise<number> {
  const { rows } = await db.query<{ failures: number }>(
    `select failures from login_failures_by_ip
     where ip = $1 and window_start >= now() - make_interval(secs => $2::float8)`,
    [ip, windowSeconds],
  );
  return rows[0]?.failures ?? 0;
}

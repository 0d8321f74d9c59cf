import type { Queryable } from './database.ts';

const GENESIS = '0'.repeat(64);

/** One event as the audit log hands it over; the trigger gives it its `seq`, time and place in the chain. */
export interface NewAuditEvent {
  type: string;
  actor: string;
  clientId?: string | undefined;
  accountId?: string | undefined;
  grantId?: string | undefined;
  requestId: string | null;
  details?: Record<string, unknown> | undefined;
}

/**
 * Appends `events` to the append-only `audit_events` table in one multi-row INSERT, in order: the chain trigger
 * takes its lock once per batch instead of once per event.
 */
async function appendAuditEvents(db: Queryable, events: NewAuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  const values: unknown[] = [];
  const tuples = events.map((event, i) => {
    values.push(event.type, event.actor, event.clientId ?? null, event.accountId ?? null, event.grantId ?? null);
    values.push(event.requestId, event.details ?? {});
    const at = i * 7;
    return `($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5}, $${at + 6}, $${at + 7})`;
  });
  await db.query(
    `insert into audit_events (type, actor, client_id, account_id, grant_id, request_id, details)
     values ${tuples.join(', ')}`,
    values,
  );
}

export type ChainVerdict =
  | { ok: true; events: number }
  | { ok: false; events: number; seq: number; id: number; reason: string };

/**
 * Walks the audit chain in `seq` order, recomputing every row's hash in Postgres (the same function the insert trigger
 * uses) and checking each row points at the one before it. The first broken row is reported: an edited row no
 * longer matches its hash; a deleted row leaves a gap in `seq` and a dangling `prev_hash`.
 */
async function verifyAuditChain(db: Queryable, batchSize = 5000): Promise<ChainVerdict> {
  let previous = { seq: 0, hash: GENESIS };
  let events = 0;
  for (;;) {
    const { rows } = await db.query<{ seq: string; id: string; hash: string; prev_hash: string; expected: string }>(
      `select seq, id, hash, prev_hash, audit_event_digest(a) as expected from audit_events a
       where seq > $1 order by seq limit $2`,
      [previous.seq, batchSize],
    );
    for (const row of rows) {
      const seq = Number(row.seq);
      const broken = (reason: string): ChainVerdict => ({ ok: false, events, seq, id: Number(row.id), reason });
      if (seq !== previous.seq + 1) return broken(`event ${previous.seq + 1} is missing`);
      if (row.prev_hash !== previous.hash) return broken('it does not point at the event before it');
      if (row.hash !== row.expected) return broken('its content does not match its hash');
      previous = { seq, hash: row.hash };
      events += 1;
    }
    if (rows.length < batchSize) return { ok: true, events };
  }
}

export type AuditRow = {
  seq: number;
  id: number;
  occurred_at: string;
  type: string;
  actor: string;
  client_id: string | null;
  account_id: string | null;
  grant_id: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
  hash: string;
};

/** Audit events in chain order, from `afterSeq`, for tail and export. */
async function auditEvents(
  db: Queryable,
  options: { afterSeq?: number; since?: Date; limit: number },
): Promise<AuditRow[]> {
  const { rows } = await db.query<
    Omit<AuditRow, 'seq' | 'id' | 'occurred_at'> & { seq: string; id: string; occurred_at: Date }
  >(
    `select seq, id, occurred_at, type, actor, client_id, account_id, grant_id, request_id, details, hash
     from audit_events
     where seq > $1 and ($2::timestamptz is null or occurred_at >= $2) order by seq limit $3`,
    [options.afterSeq ?? 0, options.since ?? null, options.limit],
  );
  return rows.map((row) => ({
    ...row,
    seq: Number(row.seq),
    id: Number(row.id),
    occurred_at: new Date(row.occurred_at).toISOString(),
  }));
}

async function lastSeq(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ seq: string | null }>('select max(seq) as seq from audit_events');
  return Number(rows[0]?.seq ?? 0);
}

/** The tamper-evident audit log's storage: appended to, never changed; verified and read in chain order. */
export interface AuditStore {
  append(events: NewAuditEvent[]): Promise<void>;
  verify(batchSize?: number): Promise<ChainVerdict>;
  events(options: { afterSeq?: number; since?: Date; limit: number }): Promise<AuditRow[]>;
  lastSeq(): Promise<number>;
}

/** The server's group-committed write statements (oidc-batches.ts), which take audit events along. */
interface AuditBatches {
  appendAudit(events: NewAuditEvent[]): Promise<void>;
}

/**
 * The {@link AuditStore} on Postgres. With the server's `batches`, appends go out in its write statements (with the
 * tokens being stored), so the process holds the chain's lock for one statement at a time.
 */
export class PgAuditStore implements AuditStore {
  readonly #db: Queryable;
  readonly #batches: AuditBatches | undefined;

  constructor(db: Queryable, batches?: AuditBatches) {
    this.#db = db;
    this.#batches = batches;
  }

  append(events: NewAuditEvent[]) {
    if (events.length === 0) return Promise.resolve();
    return this.#batches ? this.#batches.appendAudit(events) : appendAuditEvents(this.#db, events);
  }

  verify(batchSize?: number) {
    return verifyAuditChain(this.#db, batchSize);
  }

  events(options: { afterSeq?: number; since?: Date; limit: number }) {
    return auditEvents(this.#db, options);
  }

  lastSeq() {
    return lastSeq(this.#db);
  }
}

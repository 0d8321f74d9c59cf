import type { NewAuditEvent } from './audit-chain.ts';
import type { Queryable } from './database.ts';
import { assertStorable } from './errors.ts';
import { GroupCommit } from './group-commit.ts';

/** A row of `oidc_models` as the adapter reads it. */
export interface StoredRow {
  payload: Record<string, unknown>;
  consumed_at: Date | null;
}

/** One model instance as the adapter writes it: the stored id and the sealed payload, never a raw bearer value. */
export interface ModelRow {
  model: string;
  id: string;
  payload: Record<string, unknown>;
  grantId: string | null;
  uid: string | null;
  userCode: string | null;
  /** Seconds from now; null: no expiry. */
  expiresIn: number | null;
  /** Written in the same statement, so it commits with the row or not at all (a token's issuance). */
  with?: SavedWith | undefined;
}

/** What the save of a row writes with it: its audit event, and the grant it was issued under (its last use). */
export interface SavedWith {
  audit?: NewAuditEvent | undefined;
  grantUsed?: string | undefined;
}

export interface RowKey {
  model: string;
  id: string;
}

const keyOf = ({ model, id }: RowKey) => `${model}\u0000${id}`;

/** One caller's part of a write statement: a model row (with what its save writes), or audit events alone. */
export type Write = { row: ModelRow; events?: undefined } | { row?: undefined; events: NewAuditEvent[] };

/**
 * The server's hot statements, group-committed (issue 15): the upserts, consumes and finds of every request in
 * flight on this process share one statement of each kind at a time, and the audit log's events go out in the
 * upserts' statement too. Every audit event takes the audit chain's lock until its commit (migration 0005), so this
 * process holds it for one statement at a time instead of one for the tokens and one for the other events. Each
 * caller still gets exactly what a statement of its own would have given it:
 * - upserts of the same row in one batch: the last one submitted is written (as if they had run in that order);
 * - consumes of the same row in one batch: the first one submitted consumes it, every other one finds it consumed
 *   (one conditional UPDATE, so of many parallel redemptions exactly one succeeds, across processes too);
 * - finds of the same row: each caller gets its own copy, so no request sees what oidc-provider does to another's.
 * Rows are written in key order, so two processes' batches lock shared rows in the same order.
 */
export class OidcBatches {
  readonly #writes: GroupCommit<Write, undefined>;
  readonly #consumes: GroupCommit<RowKey, boolean>;
  readonly #finds: GroupCommit<RowKey, StoredRow | undefined>;

  constructor(db: Queryable) {
    this.#writes = new GroupCommit((writes) => write(db, writes));
    this.#consumes = new GroupCommit((keys) => consumeRows(db, keys));
    this.#finds = new GroupCommit((keys) => findRows(db, keys));
  }

  async upsert(row: ModelRow): Promise<void> {
    assertStorable(row);
    return this.#writes.submit({ row });
  }

  /** Appends `events` to the audit chain, in order, in the next write statement. */
  async appendAudit(events: NewAuditEvent[]): Promise<void> {
    assertStorable(events);
    return this.#writes.submit({ events });
  }

  /** True when this call consumed the row; false when it was consumed already, expired or never stored. */
  consume(key: RowKey): Promise<boolean> {
    return this.#consumes.submit(key);
  }

  find(key: RowKey): Promise<StoredRow | undefined> {
    return this.#finds.submit(key);
  }
}

/**
 * Writes the model rows of `writes` (insert or update) in one statement, with their audit events and grant uses,
 * and the audit events of the rest, in the order submitted: a token that is answered has its audit event, and no
 * audit event names a token that was not stored.
 */
export async function write(db: Queryable, writes: readonly Write[]): Promise<undefined[]> {
  const rows = writes.flatMap((item) => (item.row ? [item.row] : []));
  // ON CONFLICT cannot touch one row twice in a statement: the last write of a row stands for all of them.
  const last = new Map(rows.map((row) => [keyOf(row), row]));
  const unique = [...last.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
  const events = writes.flatMap((item) => item.events ?? (item.row.with?.audit ? [item.row.with.audit] : []));
  const grants = [...new Set(rows.flatMap((row) => (row.with?.grantUsed ? [row.with.grantUsed] : [])))].sort();
  await db.query(
    `with saved as (
       insert into oidc_models (model, id, payload, grant_id, uid, user_code, expires_at)
       select m, i, p::jsonb, g, u, c, case when e is null then null else now() + make_interval(secs => e) end
       from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[])
         with ordinality as t(m, i, p, g, u, c, e, n)
       order by n
       on conflict (model, id) do update set
         payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
         user_code = excluded.user_code, expires_at = excluded.expires_at
       returning 1
     ), audited as (
       insert into audit_events (type, actor, client_id, account_id, grant_id, request_id, details)
       select ty, ac, cl, acc, gr, rq, de::jsonb
       from unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
         with ordinality as a(ty, ac, cl, acc, gr, rq, de, n)
       order by n
       returning 1
     ), used as (
       insert into grant_usage (grant_id, last_used_at) select g, now() from unnest($15::text[]) as u(g)
       on conflict (grant_id) do update set last_used_at = now()
       returning 1
     )
     select (select count(*) from saved) + (select count(*) from audited) + (select count(*) from used) as written`,
    [
      unique.map((row) => row.model),
      unique.map((row) => row.id),
      unique.map((row) => JSON.stringify(row.payload)),
      unique.map((row) => row.grantId),
      unique.map((row) => row.uid),
      unique.map((row) => row.userCode),
      unique.map((row) => row.expiresIn),
      events.map((event) => event.type),
      events.map((event) => event.actor),
      events.map((event) => event.clientId ?? null),
      events.map((event) => event.accountId ?? null),
      events.map((event) => event.grantId ?? null),
      events.map((event) => event.requestId),
      events.map((event) => JSON.stringify(event.details ?? {})),
      grants,
    ],
  );
  return writes.map(() => undefined);
}

/** Consumes each row once; true for the caller that consumed it. */
export async function consumeRows(db: Queryable, keys: readonly RowKey[]): Promise<boolean[]> {
  const { rows } = await db.query<{ model: string; id: string }>(
    `update oidc_models o set consumed_at = now()
     from (select distinct m, i from unnest($1::text[], $2::text[]) as k(m, i)) k
     where o.model = k.m and o.id = k.i and o.consumed_at is null and (o.expires_at is null or o.expires_at > now())
     returning o.model, o.id`,
    [keys.map((key) => key.model), keys.map((key) => key.id)],
  );
  const consumed = new Set(rows.map(keyOf));
  // The first caller asking for a row gets its consumption; the rest find it spent, as they would have one by one.
  return keys.map((key) => consumed.delete(keyOf(key)));
}

/** The rows of `keys` that exist and have not expired, each caller with its own copy. */
export async function findRows(db: Queryable, keys: readonly RowKey[]): Promise<(StoredRow | undefined)[]> {
  const { rows } = await db.query<StoredRow & { model: string; id: string; [column: string]: unknown }>(
    `select model, id, payload, consumed_at from oidc_models
     where (model, id) in (select m, i from unnest($1::text[], $2::text[]) as k(m, i))
       and (expires_at is null or expires_at > now())`,
    [keys.map((key) => key.model), keys.map((key) => key.id)],
  );
  const found = new Map(rows.map((row) => [keyOf(row), row]));
  const asked = new Map<string, number>();
  for (const key of keys) asked.set(keyOf(key), (asked.get(keyOf(key)) ?? 0) + 1);
  return keys.map((key) => {
    const row = found.get(keyOf(key));
    if (!row) return undefined;
    const stored = { payload: row.payload, consumed_at: row.consumed_at };
    return asked.get(keyOf(key))! > 1 ? { ...stored, payload: structuredClone(stored.payload) } : stored;
  });
}

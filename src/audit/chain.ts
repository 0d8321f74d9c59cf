import { type AuditRow, PgAuditStore } from '../db/audit-chain.ts';
import type { Queryable } from '../db/database.ts';
import { KluisError } from '../errors.ts';

/** The tamper-evident chain does not verify: an event was changed, removed or inserted after it was written. */
export class AuditChainBroken extends KluisError {
  override name = 'AuditChainBroken';
  readonly code = 'ERR_AUDIT_CHAIN_BROKEN';
  override readonly status = 500;
}

/** The whole chain verified, or AuditChainBroken naming the first broken event. */
export async function verifyAudit({ db }: { db: Queryable }) {
  const verdict = await new PgAuditStore(db).verify();
  if (!verdict.ok) {
    const where = `event ${verdict.seq} (id ${verdict.id})`;
    throw new AuditChainBroken(
      `audit chain broken at ${where}: ${verdict.reason}; ${verdict.events} events before it verified`,
    );
  }
  return { verified: true, events: verdict.events };
}

/** The newest `limit` events, oldest first. */
export async function tailAudit({ db }: { db: Queryable }, limit: number): Promise<AuditRow[]> {
  const store = new PgAuditStore(db);
  const from = Math.max(0, (await store.lastSeq()) - limit);
  return store.events({ afterSeq: from, limit });
}

const BATCH = 5000;

/** Every event (since a time) in chain order, for a SIEM; read a batch at a time, so any length streams. */
export async function* exportAudit({ db }: { db: Queryable }, since?: Date): AsyncGenerator<AuditRow> {
  const store = new PgAuditStore(db);
  let after = 0;
  for (;;) {
    const batch = await store.events({ afterSeq: after, ...(since ? { since } : {}), limit: BATCH });
    yield* batch;
    if (batch.length < BATCH) return;
    after = batch.at(-1)!.seq;
  }
}

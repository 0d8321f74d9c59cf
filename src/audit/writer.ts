import type { Queryable } from '../db/database.ts';
import type { Logger } from '../log/logger.ts';
import { currentRequestId } from '../log/request-context.ts';
import type { AuditEvent } from './events.ts';

interface Queued {
  event: AuditEvent;
  requestId: string | null;
}

const MAX_BATCH = 200;

/** The single writer to the append-only `audit_events` table. */
export class AuditLog {
  readonly #db: Queryable;
  readonly #log: Logger;
  readonly #listeners: ((event: AuditEvent) => void)[] = [];
  readonly #queue: Queued[] = [];
  #flushing: Promise<void> | undefined;

  constructor(db: Queryable, log: Logger) {
    this.#db = db;
    this.#log = log;
  }

  /** Called for every event as it is recorded (metrics count from here). */
  onRecord(listener: (event: AuditEvent) => void): void {
    this.#listeners.push(listener);
  }

  async record(event: AuditEvent): Promise<void> {
    for (const listener of this.#listeners) listener(event);
    await this.#insert([{ event, requestId: currentRequestId() ?? null }]);
  }

  /**
   * For events raised where nobody can wait for the write (oidc-provider's synchronous event emitter). They are
   * queued and written in batches, in order, by one multi-row INSERT: the chain trigger takes its lock once per batch
   * instead of once per token. A failed write is logged with its events, so none is lost silently.
   */
  recordLater(event: AuditEvent): void {
    for (const listener of this.#listeners) listener(event);
    this.#queue.push({ event, requestId: currentRequestId() ?? null });
    this.#flushing ??= this.#flush().finally(() => (this.#flushing = undefined));
  }

  /** Waits until every queued event is written (at shutdown). */
  async drain(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  async #flush(): Promise<void> {
    // Let the events of the current burst of requests gather first.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.#queue.length) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      await this.#insert(batch).catch((err: unknown) => {
        this.#log.error({ err: (err as Error).message, audit: batch.map((queued) => queued.event) }, 'audit events could not be written');
      });
    }
  }

  async #insert(rows: Queued[]): Promise<void> {
    const values: unknown[] = [];
    const tuples = rows.map(({ event, requestId }, i) => {
      values.push(event.type, event.actor, event.clientId ?? null, event.accountId ?? null, event.grantId ?? null, requestId, event.details ?? {});
      const at = i * 7;
      return `($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5}, $${at + 6}, $${at + 7})`;
    });
    await this.#db.query(`insert into audit_events (type, actor, client_id, account_id, grant_id, request_id, details) values ${tuples.join(', ')}`, values);
  }
}

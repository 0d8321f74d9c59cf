import type { AuditStore, NewAuditEvent } from '../db/audit-chain.ts';
import type { Logger } from '../log/logger.ts';
import { currentRequestId } from '../log/request-context.ts';
import type { AuditEvent } from './events.ts';

interface Queued {
  event: AuditEvent;
  requestId: string | null;
}

const MAX_BATCH = 200;

/** The single writer to the append-only audit log (its {@link AuditStore}). */
export class AuditLog {
  readonly #store: Pick<AuditStore, 'append'>;
  readonly #log: Logger;
  readonly #listeners: ((event: AuditEvent) => void)[] = [];
  readonly #queue: Queued[] = [];
  #flushing: Promise<void> | undefined;

  constructor(store: Pick<AuditStore, 'append'>, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /** Called for every event as it is recorded (metrics count from here). */
  onRecord(listener: (event: AuditEvent) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * The row of an event that the caller writes in its own statement, so the event commits with what it records or
   * not at all (a token's issuance: db/oidc-batches.ts). Tell the listeners with {@link announce} once it committed.
   */
  rowFor(event: AuditEvent): NewAuditEvent {
    return { ...event, requestId: currentRequestId() ?? null };
  }

  /** Tells the listeners of an event whose row was written with {@link rowFor}. */
  announce(event: AuditEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  async record(event: AuditEvent): Promise<void> {
    for (const listener of this.#listeners) listener(event);
    await this.#store.append([this.rowFor(event)]);
  }

  /**
   * For events raised where nobody can wait for the write (oidc-provider's synchronous event emitter). They are
   * queued and written in batches, in order, one append per batch (on the server, in its group-committed write
   * statements). A failed write is logged with its events, so none is lost silently; the events still queued when
   * the process dies are lost (a stored token's own event is not queued: it is written with the token).
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
        this.#log.error(
          { err: (err as Error).message, audit: batch.map((queued) => queued.event) },
          'audit events could not be written',
        );
      });
    }
  }

  async #insert(rows: Queued[]): Promise<void> {
    await this.#store.append(rows.map(({ event, requestId }) => ({ ...event, requestId })));
  }
}

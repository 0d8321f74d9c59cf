import type { AuditStore, NewAuditEvent } from '../db/audit-chain.ts';
import { currentRequestId } from '../log/request-context.ts';
import type { AuditEvent } from './events.ts';

/** The single writer to the append-only audit log (its {@link AuditStore}). */
export class AuditLog {
  readonly #store: Pick<AuditStore, 'append'>;
  readonly #listeners: ((event: AuditEvent) => void)[] = [];

  constructor(store: Pick<AuditStore, 'append'>) {
    this.#store = store;
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

  /** Appends `event`; resolves once it is stored (on the server, in the next group-committed write statement). */
  async record(event: AuditEvent): Promise<void> {
    for (const listener of this.#listeners) listener(event);
    await this.#store.append([this.rowFor(event)]);
  }
}

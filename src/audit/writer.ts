import type { Queryable } from '../db/database.ts';
import type { Logger } from '../log/logger.ts';
import { currentRequestId } from '../log/request-context.ts';
import type { AuditEvent } from './events.ts';

/** The single writer to the append-only `audit_events` table. */
export class AuditLog {
  readonly #db: Queryable;
  readonly #log: Logger;
  readonly #listeners: ((event: AuditEvent) => void)[] = [];

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
    await this.#db.query(
      `insert into audit_events (type, actor, client_id, account_id, grant_id, request_id, details)
       values ($1, $2, $3, $4, $5, $6, $7)`,
      [
        event.type,
        event.actor,
        event.clientId ?? null,
        event.accountId ?? null,
        event.grantId ?? null,
        currentRequestId() ?? null,
        event.details ?? {},
      ],
    );
  }

  /**
   * For events raised where nobody can wait for the write (oidc-provider's synchronous event emitter):
   * a failed write is logged with the event, so it is never lost silently.
   */
  recordLater(event: AuditEvent): void {
    this.record(event).catch((err: unknown) => {
      this.#log.error({ err: (err as Error).message, audit: event }, 'audit event could not be written');
    });
  }
}

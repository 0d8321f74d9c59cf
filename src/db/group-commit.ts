import { DatabaseUnavailable } from './errors.ts';

/**
 * Runs one statement for many items: returns one result per item, in order. Its items come from different requests;
 * the statement is its own transaction, so its rows commit together or not at all.
 */
export type BatchStatement<I, R> = (items: readonly I[]) => Promise<R[]>;

interface Waiting<I, R> {
  item: I;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/** Rows in one statement at most: past this, a batch's CPU grows without saving commits (docs/performance.md). */
const MAX_ITEMS = 64;

/**
 * Group commit. Items submitted while a batch is in flight wait for it and go out together as the next batch: at most
 * one statement in flight per GroupCommit, one commit (one WAL flush) for every request in it, and no caller answered
 * before that commit. An idle GroupCommit lets the current turn of the event loop finish first, so requests that
 * arrived together share the first statement too.
 *
 * When a batch fails, its items are retried one by one, in order, so one bad item fails only its own caller (values
 * Postgres cannot store are refused before they join a batch: errors.ts assertStorable). Not when the database is
 * unavailable: then every caller gets that error at once.
 */
export class GroupCommit<I, R> {
  readonly #statement: BatchStatement<I, R>;
  readonly #maxItems: number;
  #queue: Waiting<I, R>[] = [];
  #running = false;

  constructor(statement: BatchStatement<I, R>, { maxItems = MAX_ITEMS }: { maxItems?: number } = {}) {
    this.#statement = statement;
    this.#maxItems = maxItems;
  }

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#running) return;
      this.#running = true;
      setImmediate(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxItems);
      await this.#settle(batch);
    }
    this.#running = false;
  }

  async #settle(batch: Waiting<I, R>[]): Promise<void> {
    try {
      const results = await this.#statement(batch.map((waiting) => waiting.item));
      for (const [i, waiting] of batch.entries()) waiting.resolve(results[i] as R);
    } catch (err) {
      if (batch.length === 1 || err instanceof DatabaseUnavailable) {
        for (const waiting of batch) waiting.reject(err);
        return;
      }
      // One after another: in their order (audit events keep the order they were submitted in), and without taking
      // a connection each from the pool at once.
      for (const waiting of batch) {
        await this.#statement([waiting.item]).then((results) => waiting.resolve(results[0] as R), waiting.reject);
      }
    }
  }
}

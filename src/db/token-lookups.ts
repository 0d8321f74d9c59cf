import type { Queryable } from './database.ts';

/** A row of `oidc_models` as the adapter reads it. */
export interface StoredRow {
  payload: Record<string, unknown>;
  consumed_at: Date | null;
}

/**
 * The token models a presented token is looked up as: introspection and revocation (RFC 7662 2.1, RFC 7009 2.1) do
 * not know which kind of token they were given, so oidc-provider finds it as each of these at once.
 */
export const TOKEN_MODELS: ReadonlySet<string> = new Set(['AccessToken', 'ClientCredentials', 'RefreshToken']);

/**
 * Finds of one token id as several models, asked for in the same turn of the event loop, answered by one statement:
 * every model's row of a token shares the token's stored id, so one index lookup returns them all. A find asked for
 * after the statement went out starts a new one.
 */
export class TokenLookups {
  readonly #db: Queryable;
  readonly #pending = new Map<string, { models: string[]; rows: Promise<Map<string, StoredRow>> }>();

  constructor(db: Queryable) {
    this.#db = db;
  }

  find(model: string, storedId: string): Promise<StoredRow | undefined> {
    let lookup = this.#pending.get(storedId);
    if (!lookup) {
      const models: string[] = [];
      // setImmediate, not a microtask: oidc-provider awaits a little of its own before each model's find.
      const rows = new Promise<Map<string, StoredRow>>((resolve, reject) =>
        setImmediate(() => {
          this.#pending.delete(storedId);
          this.#query(storedId, models).then(resolve, reject);
        }),
      );
      lookup = { models, rows };
      this.#pending.set(storedId, lookup);
    }
    const { models } = lookup;
    models.push(model);
    return lookup.rows.then((rows) => {
      const row = rows.get(model);
      // Two requests presenting one token at once asked for the same row: each gets a copy of its own, so neither
      // sees what oidc-provider does to the other's.
      const shared = models.indexOf(model) !== models.lastIndexOf(model);
      return row && shared ? { ...row, payload: structuredClone(row.payload) } : row;
    });
  }

  async #query(storedId: string, models: string[]): Promise<Map<string, StoredRow>> {
    const { rows } = await this.#db.query<StoredRow & { model: string; [column: string]: unknown }>(
      `select model, payload, consumed_at from oidc_models
       where id = $1 and model = any($2::text[]) and (expires_at is null or expires_at > now())`,
      [storedId, models],
    );
    return new Map(rows.map((row) => [row.model, row]));
  }
}

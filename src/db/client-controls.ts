import type { Queryable } from './database.ts';
import { payloadSql } from './oidc-payloads.ts';

const row = payloadSql();

/**
 * Operator controls over a client kept outside its metadata (migration 0003): disabled state and rotated secrets.
 * Contract: test/contract/client-controls.test.ts.
 */
export interface ClientControlStore {
  /**
   * Disables the client and revokes every code and token issued to it; false when it was disabled already. Its
   * grants and registration access token stay.
   */
  disable(clientId: string): Promise<boolean>;
  /** False when it was not disabled. */
  enable(clientId: string): Promise<boolean>;
  disabledIds(): Promise<Set<string>>;
  /** Keeps `secretEncrypted` valid for `graceSeconds` (none when 0); expired ones of the client go on the way. */
  keepPreviousSecret(clientId: string, secretEncrypted: string, graceSeconds: number): Promise<void>;
  /** The encrypted secrets of `clientId` still inside their grace period. */
  previousSecrets(clientId: string): Promise<string[]>;
  /** Forgets every control of a removed client. */
  forget(clientId: string): Promise<void>;
}

export class PgClientControlStore implements ClientControlStore {
  readonly #db: Queryable;

  /** `db`: the pool, or a transaction the controls change in. */
  constructor(db: Queryable) {
    this.#db = db;
  }

  /**
   * Disables the client and, in the same statement, revokes every code and token issued to it (access, refresh,
   * client-credentials, PAR), so enabling it again revives none of them. Its grants (the consents people gave) and
   * its registration access token stay: disabling is a suspension; a compromised client is removed (`clients remove`).
   */
  async disable(clientId: string): Promise<boolean> {
    const { rows } = await this.#db.query<{ disabled: string }>(
      `with disabled as (insert into disabled_clients (client_id) values ($1) on conflict do nothing returning 1),
            revoked as (delete from oidc_models
                        where model not in ('Client', 'Grant', 'Session', 'Interaction', 'RegistrationAccessToken')
                          and ${row.clientId} = $1)
       select count(*) as disabled from disabled`,
      [clientId],
    );
    return Number(rows[0]?.disabled) === 1;
  }

  async enable(clientId: string): Promise<boolean> {
    const { rowCount } = await this.#db.query('delete from disabled_clients where client_id = $1', [clientId]);
    return rowCount === 1;
  }

  async disabledIds(): Promise<Set<string>> {
    const { rows } = await this.#db.query<{ client_id: string }>('select client_id from disabled_clients');
    return new Set(rows.map((found) => found.client_id));
  }

  async keepPreviousSecret(clientId: string, secretEncrypted: string, graceSeconds: number): Promise<void> {
    await this.#db.query('delete from previous_client_secrets where client_id = $1 and expires_at <= now()', [
      clientId,
    ]);
    if (graceSeconds > 0) {
      await this.#db.query(
        `insert into previous_client_secrets (client_id, secret_encrypted, expires_at)
         values ($1, $2, now() + make_interval(secs => $3::float8))`,
        [clientId, secretEncrypted, graceSeconds],
      );
    }
  }

  async previousSecrets(clientId: string): Promise<string[]> {
    const { rows } = await this.#db.query<{ secret_encrypted: string }>(
      'select secret_encrypted from previous_client_secrets where client_id = $1 and expires_at > now()',
      [clientId],
    );
    return rows.map((found) => found.secret_encrypted);
  }

  async forget(clientId: string): Promise<void> {
    await this.#db.query('delete from disabled_clients where client_id = $1', [clientId]);
    await this.#db.query('delete from previous_client_secrets where client_id = $1', [clientId]);
  }
}

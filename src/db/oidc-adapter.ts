import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { CacheView } from './change-cache.ts';
import type { Database, Queryable } from './database.ts';
import { RowAlreadyConsumed } from './errors.ts';
import { openPayload, sealPayload } from './oidc-payloads.ts';
import {
  consumeRows,
  findRows,
  type ModelRow,
  OidcBatches,
  type SavedWith,
  type StoredRow,
  write,
} from './oidc-batches.ts';

/** Every model oidc-provider persists through its adapter. */
export const MODELS = [
  'Session',
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'ClientCredentials',
  'Client',
  'InitialAccessToken',
  'RegistrationAccessToken',
  'Interaction',
  'ReplayDetection',
  'PushedAuthorizationRequest',
  'Grant',
  'BackchannelAuthenticationRequest',
] as const;

export { CLIENT_SECRET_PURPOSE } from './oidc-payloads.ts';

/**
 * Clients and Grants keep their ids (public identifiers, referenced by other rows); ReplayDetection ids are the jti
 * values of proofs already spent. Every other model's id is a bearer value: whoever holds it can use it (a token, a
 * code, a registration or initial access token, a session cookie's or interaction's id, a request_uri). Their rows
 * are keyed by a keyed hash of the id, and the id is never written into the payload, so a database dump holds
 * nothing that can be presented back to Kluis.
 */
const PUBLIC_ID_MODELS: ReadonlySet<string> = new Set(['Client', 'Grant', 'ReplayDetection']);
export const HASHED_ID_MODELS: ReadonlySet<string> = new Set(MODELS.filter((model) => !PUBLIC_ID_MODELS.has(model)));

/** Row ids written by this scheme start with this; raw oidc-provider ids (nanoid's alphabet) never contain a dot. */
export const HASHED_ID_PREFIX = 'kh1.';
const ID_PURPOSE = 'oidc_models.id';

/** The row id under which `model`'s instance `id` is stored. */
export function storedId(box: SecretBox, model: string, id: string): string {
  return HASHED_ID_MODELS.has(model) ? HASHED_ID_PREFIX + box.keyedHash(id, ID_PURPOSE) : id;
}

/**
 * oidc-provider's storage contract on PostgreSQL: one row per model instance in `oidc_models`.
 * - Expired rows are never returned; {@link sweepExpired} deletes them later.
 * - `consume` is one conditional UPDATE, so of many parallel redemptions exactly one succeeds
 *   (oidc-provider itself checks `consumed` before consuming, which races across requests and processes).
 * - Client secrets are encrypted at rest under the key-encryption key.
 * - Bearer values ({@link HASHED_ID_MODELS}) are stored only as keyed hashes: oidc-provider always passes the raw id,
 *   which is hashed before it reaches SQL and put back into the payload it came with on the way out.
 * - It throws storage errors only (db/errors.ts); oidc-provider is given it wrapped in oidc/provider/adapter.ts,
 *   which maps them to protocol errors.
 */
export class PostgresAdapter implements Adapter {
  readonly model: string;
  readonly #db: Queryable;
  readonly #box: SecretBox;
  readonly #includeDisabled: boolean;
  readonly #cache: CacheView<AdapterPayload> | undefined;
  readonly #batches: OidcBatches | undefined;
  readonly #onSave: SaveRecorder | undefined;

  /**
   * `includeDisabled`: for the operator's CLI, which must see disabled clients to show, update or enable them.
   * `cache`: the server's client cache (invalidated by NOTIFY), used for Client lookups.
   * `batches`: shared by all of the server's models, so the upserts, consumes and finds of the requests in flight
   * share statements and commits (group commit, oidc-batches.ts).
   * `onSave`: what a model's save writes in its own statement (the server's token audit events and grant uses).
   */
  constructor(
    model: string,
    db: Queryable,
    box: SecretBox,
    {
      includeDisabled = false,
      cache,
      batches,
      onSave,
    }: {
      includeDisabled?: boolean;
      cache?: CacheView<AdapterPayload> | undefined;
      batches?: OidcBatches;
      onSave?: SaveRecorder | undefined;
    } = {},
  ) {
    this.model = model;
    this.#db = db;
    this.#box = box;
    this.#includeDisabled = includeDisabled;
    this.#cache = model === 'Client' && !includeDisabled ? cache : undefined;
    this.#batches = batches;
    this.#onSave = onSave;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const row: ModelRow = { ...this.#row(id, payload, expiresIn ?? null), with: this.#onSave?.(this.model, payload) };
    if (this.#batches) return this.#batches.upsert(row);
    await write(this.#db, [{ row }]);
  }

  /** Stores a new instance; false when one with `id` exists already (never overwrites it). */
  async insert(id: string, payload: AdapterPayload): Promise<boolean> {
    const row = this.#row(id, payload, null);
    const { rowCount } = await this.#db.query(
      `insert into oidc_models (model, id, payload, grant_id, uid, user_code) values ($1, $2, $3, $4, $5, $6)
       on conflict (model, id) do nothing`,
      [row.model, row.id, row.payload, row.grantId, row.uid, row.userCode],
    );
    return rowCount === 1;
  }

  /** Changes an instance that exists; false when there is none (never creates one). */
  async replace(id: string, payload: AdapterPayload): Promise<boolean> {
    const row = this.#row(id, payload, null);
    const { rowCount } = await this.#db.query(
      `update oidc_models set payload = $3, grant_id = $4, uid = $5, user_code = $6 where model = $1 and id = $2`,
      [row.model, row.id, row.payload, row.grantId, row.uid, row.userCode],
    );
    return rowCount === 1;
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (this.model === 'ReplayDetection') return this.#claim(id);
    if (!this.#cache) return this.#findWhere('id', this.#key(id), id);
    const cached = this.#cache.get(id);
    if (cached) return cached.value && structuredClone(cached.value);
    const generation = this.#cache.generation(id);
    const payload = await this.#findWhere('id', this.#key(id), id);
    this.#cache.set(id, payload && structuredClone(payload), generation);
    return payload;
  }

  /**
   * oidc-provider checks a DPoP proof's or client assertion's jti with find-then-save, which races: two processes
   * could both find nothing and both accept the same proof. Here the find is the claim: one INSERT (or the takeover
   * of an expired row) wins and reports "not seen"; everyone else gets the stored row and reports a replay. The
   * provisional expiry is replaced by oidc-provider's own when it saves the row right after.
   */
  async #claim(id: string): Promise<AdapterPayload | undefined> {
    const { rowCount } = await this.#db.query(
      `insert into oidc_models (model, id, payload, expires_at) values ($1, $2, '{}', now() + interval '10 minutes')
       on conflict (model, id) do update set
         payload = excluded.payload, expires_at = excluded.expires_at,
         consumed_at = null, grant_id = null, uid = null, user_code = null
         where oidc_models.expires_at <= now()`,
      [this.model, id],
    );
    if (rowCount === 1) return undefined;
    return (await this.#findWhere('id', id, id)) ?? { jti: id };
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findWhere('uid', uid, undefined);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findWhere('user_code', userCode, undefined);
  }

  async consume(id: string): Promise<void> {
    const key = { model: this.model, id: this.#key(id) };
    const consumed = this.#batches ? await this.#batches.consume(key) : (await consumeRows(this.#db, [key]))[0];
    if (!consumed) throw new RowAlreadyConsumed(this.model);
  }

  async destroy(id: string): Promise<void> {
    await this.#db.query('delete from oidc_models where model = $1 and id = $2', [this.model, this.#key(id)]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#db.query('delete from oidc_models where model = $1 and grant_id = $2', [this.model, grantId]);
  }

  /** `id`: the raw id the row was asked for by, given back as the payload's jti (undefined for secondary keys). */
  async #findWhere(
    column: 'id' | 'uid' | 'user_code',
    value: string,
    id: string | undefined,
  ): Promise<AdapterPayload | undefined> {
    // A disabled client is not found: it cannot authenticate, and tokens issued to it introspect as inactive.
    const enabled =
      this.model === 'Client' && !this.#includeDisabled
        ? 'and not exists (select 1 from disabled_clients d where d.client_id = oidc_models.id)'
        : '';
    const byId = column === 'id' && !enabled;
    const key = { model: this.model, id: value };
    const row = byId
      ? await (this.#batches ? this.#batches.find(key) : findRows(this.#db, [key]).then((rows) => rows[0]))
      : await this.#findRow(column, value, enabled);
    if (!row) return undefined;
    const payload = openPayload(
      this.#box,
      this.model,
      row.payload as AdapterPayload,
      HASHED_ID_MODELS.has(this.model),
      id,
    );
    if (row.consumed_at) payload.consumed = Math.floor(row.consumed_at.getTime() / 1000);
    return payload;
  }

  async #findRow(column: 'id' | 'uid' | 'user_code', value: string, enabled: string): Promise<StoredRow | undefined> {
    const { rows } = await this.#db.query<StoredRow & Record<string, unknown>>(
      `select payload, consumed_at from oidc_models
       where model = $1 and ${column} = $2 and (expires_at is null or expires_at > now()) ${enabled}`,
      [this.model, value],
    );
    return rows[0];
  }

  /** Stored id, sealed payload and the indexed payload fields: the columns upsert, insert and replace write. */
  #row(id: string, payload: AdapterPayload, expiresIn: number | null): ModelRow {
    const { grantId, uid, userCode } = payload;
    return {
      model: this.model,
      id: this.#key(id),
      payload: this.#seal(payload),
      grantId: grantId ?? null,
      uid: uid ?? null,
      userCode: userCode ?? null,
      expiresIn,
    };
  }

  #key(id: string): string {
    return storedId(this.#box, this.model, id);
  }

  #seal(payload: AdapterPayload): AdapterPayload {
    return sealPayload(this.#box, this.model, payload, HASHED_ID_MODELS.has(this.model));
  }
}

/** What the save of a model instance writes with it, in the same statement (undefined: nothing). */
export type SaveRecorder = (model: string, payload: AdapterPayload) => SavedWith | undefined;

export function postgresAdapter(
  db: Database,
  box: SecretBox,
  {
    cache,
    onSave,
    batches = new OidcBatches(db),
  }: { cache?: CacheView<AdapterPayload> | undefined; onSave?: SaveRecorder | undefined; batches?: OidcBatches } = {},
): AdapterFactory {
  return (model: string) => new PostgresAdapter(model, db, box, { cache, batches, onSave });
}

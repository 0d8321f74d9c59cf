import type { JWK } from 'jose';
import type { Database, Queryable } from './database.ts';

export type KeyState = 'pending' | 'active' | 'retired';

export interface StoredKey {
  kid: string;
  alg: string;
  publicJwk: JWK;
  privateJwkEncrypted: string;
  state: KeyState;
  createdAt: Date;
  activatesAt: Date;
  retiredAt: Date | null;
  expiresAt: Date | null;
}

// Serialises key generation and rotation across processes (transaction-scoped advisory lock).
const KEYS_LOCK = 0x6b6b657973; // "kkeys"

/**
 * The `signing_keys` table. States are computed with the database clock, so every process agrees on which key
 * signs. Order: active keys first (newest first: oidc-provider signs with the first match), then pending, then retired.
 */
export async function listPublishedKeys(db: Queryable): Promise<StoredKey[]> {
  const { rows } = await db.query<{
    kid: string;
    alg: string;
    public_jwk: JWK;
    private_jwk_encrypted: string;
    state: KeyState;
    created_at: Date;
    activates_at: Date;
    retired_at: Date | null;
    expires_at: Date | null;
  }>(
    `select kid, alg, public_jwk, private_jwk_encrypted, created_at, activates_at, retired_at, expires_at, state
     from (select *, case
             when activates_at > now() then 'pending'
             when retired_at is not null and retired_at <= now() then 'retired'
             else 'active' end as state
           from signing_keys
           where expires_at is null or expires_at > now()) k
     order by case state when 'active' then 0 when 'pending' then 1 else 2 end, activates_at desc, kid`,
  );
  return rows.map((row) => ({
    kid: row.kid,
    alg: row.alg,
    publicJwk: row.public_jwk,
    privateJwkEncrypted: row.private_jwk_encrypted,
    state: row.state,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
    retiredAt: row.retired_at,
    expiresAt: row.expires_at,
  }));
}

export interface NewKey {
  kid: string;
  alg: string;
  publicJwk: JWK;
  privateJwkEncrypted: string;
}

export async function withKeysLock<T>(db: Database, work: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [KEYS_LOCK]);
    return work(tx);
  });
}

/** Algorithms that have no current (unretired) key. */
export async function algorithmsWithoutKey(tx: Queryable, algs: readonly string[]): Promise<string[]> {
  const { rows } = await tx.query<{ alg: string }>(
    'select distinct alg from signing_keys where retired_at is null and alg = any($1::text[])',
    [algs],
  );
  const present = new Set(rows.map((row) => row.alg));
  return algs.filter((alg) => !present.has(alg));
}

/** Inserts a key that signs from now + `activateIn` seconds. */
export async function insertKey(tx: Queryable, key: NewKey, activateIn: number): Promise<void> {
  await tx.query(
    `insert into signing_keys (kid, alg, public_jwk, private_jwk_encrypted, activates_at)
     values ($1, $2, $3, $4, now() + make_interval(secs => $5::integer))`,
    [key.kid, key.alg, key.publicJwk, key.privateJwkEncrypted, activateIn],
  );
}

/**
 * Retires every current key of `alg` except `keepKid` at now + `retireIn`, and unpublishes it `retention`
 * seconds later. Returns the kids retired.
 */
export async function retireKeys(
  tx: Queryable,
  alg: string,
  keepKid: string,
  retireIn: number,
  retention: number,
): Promise<string[]> {
  const { rows } = await tx.query<{ kid: string }>(
    `update signing_keys
     set retired_at = now() + make_interval(secs => $3::integer),
         expires_at = now() + make_interval(secs => $3::integer + $4::integer)
     where alg = $1 and kid <> $2 and retired_at is null
     returning kid`,
    [alg, keepKid, retireIn, retention],
  );
  return rows.map((row) => row.kid);
}

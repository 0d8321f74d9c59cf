import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import type { Config } from '../config/env.ts';
import { ConfigError } from '../config/env.ts';
import type { Queryable } from '../db/database.ts';
import { storedSecret, storeSecretOnce } from '../db/server-secrets.ts';
import { DecryptionFailed, SecretBox } from './secret-box.ts';

/** What Kluis needs that must be identical in every process and never leave the database in clear. */
export interface ServerSecrets {
  /** Encrypts private signing keys and client secrets at rest. */
  box: SecretBox;
  /** Signs cookies (Keygrip); the first key signs, all verify. */
  cookieKeys: string[];
  /** Salt for pairwise subject identifiers (OIDC Core 8.1). */
  pairwiseSalt: string;
  /** Derives DPoP server nonces (RFC 9449 8): every process must issue and accept the same ones. */
  dpopNonceSecret: Buffer;
}

const DEV_MASTER = 'dev_master_secret';
const KEK_CHECK = 'kek_check';
const KEK_KDF = 'kek_kdf';
const COOKIE_KEYS = 'cookie_keys';
const PAIRWISE_SALT = 'pairwise_salt';
const DPOP_NONCE_SECRET = 'dpop_nonce_secret';
const CHECK_PLAINTEXT = 'kluis key-encryption key check';

/**
 * How a database set up with KLUIS_SECRET stretches it before HKDF: argon2id with RFC 9106 4's second recommended
 * option (64 MiB, 3 passes, 4 lanes) and a random 16-byte salt. A dump holds a known-plaintext check value, so each
 * guess at the secret costs an attacker this work instead of one HKDF (figures: docs/operator-guide.md, "Secrets and
 * keys").
 */
export const KEK_ARGON2 = { memoryKiB: 65_536, passes: 3, lanes: 4 } as const;

/** The `kek_kdf` row: what stretched this database's master secret. */
interface StoredKdf {
  alg: 'argon2id';
  salt: string;
  m: number;
  t: number;
  p: number;
}

/**
 * Loads the server secrets, creating them on first start. The key-encryption key comes from KLUIS_SECRET;
 * in development (http issuer) without it, a random master secret is generated once and kept in the database.
 * Concurrent first starts are safe: every value is inserted with ON CONFLICT DO NOTHING and read back.
 */
export async function loadServerSecrets(
  db: Queryable,
  config: Pick<Config, 'secret' | 'production'>,
): Promise<ServerSecrets> {
  let master = config.secret;
  if (!master) {
    if (config.production) throw new ConfigError('KLUIS_SECRET is required when ISSUER is https (production)');
    master = await storeSecretOnce(db, DEV_MASTER, randomBytes(48).toString('base64url'));
  }
  const box = await keyEncryptionKey(db, master, config.secret !== undefined);

  const check = await storeSecretOnce(db, KEK_CHECK, box.encrypt(CHECK_PLAINTEXT, KEK_CHECK));
  try {
    box.decrypt(check, KEK_CHECK);
  } catch (err) {
    if (!(err instanceof DecryptionFailed)) throw err;
    throw new ConfigError(
      config.secret
        ? 'KLUIS_SECRET does not match the secret this database was set up with: use the original value'
        : 'this database was set up with KLUIS_SECRET: set it to the original value',
    );
  }

  return {
    box,
    cookieKeys: JSON.parse(
      await sealedValue(db, box, COOKIE_KEYS, () => JSON.stringify([randomBytes(32).toString('base64url')])),
    ) as string[],
    pairwiseSalt: await sealedValue(db, box, PAIRWISE_SALT, () => randomBytes(32).toString('base64url')),
    dpopNonceSecret: Buffer.from(
      await sealedValue(db, box, DPOP_NONCE_SECRET, () => randomBytes(32).toString('base64url')),
      'base64url',
    ),
  };
}

/**
 * The key-encryption key of this database. A database set up with KLUIS_SECRET keeps how the secret was stretched
 * (argon2id, {@link KEK_ARGON2}) in the `kek_kdf` row, created with the first check value; a database that has a
 * check value but no such row was set up before and keeps HKDF alone, because a new derivation would change the key
 * and with it every sealed value and keyed hash (token ids, codes). The generated development secret is 384 random
 * bits kept in the same table, so stretching it would add nothing: it uses HKDF alone too.
 */
async function keyEncryptionKey(db: Queryable, master: string, fromOperator: boolean): Promise<SecretBox> {
  // The check value is read first: a database without one is new, and every process starting on it at once then
  // agrees on one kek_kdf row (inserted ON CONFLICT DO NOTHING and read back).
  const setUp = (await storedSecret(db, KEK_CHECK)) !== undefined;
  let kdf = await storedSecret(db, KEK_KDF);
  if (kdf === undefined && !setUp && fromOperator) {
    const created: StoredKdf = {
      alg: 'argon2id',
      salt: randomBytes(16).toString('base64url'),
      m: KEK_ARGON2.memoryKiB,
      t: KEK_ARGON2.passes,
      p: KEK_ARGON2.lanes,
    };
    kdf = await storeSecretOnce(db, KEK_KDF, JSON.stringify(created));
  }
  if (kdf === undefined) return SecretBox.fromMasterSecret(master);
  const { salt, m, t, p } = parseKdf(kdf);
  const stretched = await argon2.hash(master, {
    type: argon2.argon2id,
    raw: true,
    salt: Buffer.from(salt, 'base64url'),
    memoryCost: m,
    timeCost: t,
    parallelism: p,
    hashLength: 32,
  });
  return SecretBox.fromStretchedSecret(stretched);
}

/** The stored kek_kdf row, checked: a row Kluis cannot use stops it with one line rather than a crypto error. */
function parseKdf(value: string): StoredKdf {
  let kdf: Partial<StoredKdf> | undefined;
  try {
    kdf = JSON.parse(value) as Partial<StoredKdf>;
  } catch {
    kdf = undefined;
  }
  const whole = (n: unknown, min: number, max: number) =>
    Number.isInteger(n) && (n as number) >= min && (n as number) <= max;
  if (
    kdf?.alg !== 'argon2id' ||
    typeof kdf.salt !== 'string' ||
    Buffer.from(kdf.salt, 'base64url').length < 16 ||
    !whole(kdf.m, 8 * (kdf.p ?? 1), 4_194_304) ||
    !whole(kdf.t, 1, 100) ||
    !whole(kdf.p, 1, 64)
  ) {
    throw new ConfigError(
      'server_secrets row kek_kdf is not an argon2id derivation Kluis can use: restore it from a backup',
    );
  }
  return kdf as StoredKdf;
}

/**
 * A secret value kept in `server_secrets`, encrypted under `name` as its purpose; created by `create` on first use.
 * Concurrent first calls agree on one value.
 */
export async function sealedValue(db: Queryable, box: SecretBox, name: string, create: () => string): Promise<string> {
  return box.decrypt(await storeSecretOnce(db, name, box.encrypt(create(), name)), name);
}

import { randomBytes } from 'node:crypto';
import type { Config } from '../config/env.ts';
import { ConfigError } from '../config/env.ts';
import type { Database } from '../db/database.ts';
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
const COOKIE_KEYS = 'cookie_keys';
const PAIRWISE_SALT = 'pairwise_salt';
const DPOP_NONCE_SECRET = 'dpop_nonce_secret';
const CHECK_PLAINTEXT = 'kluis key-encryption key check';

/**
 * Loads the server secrets, creating them on first start. The key-encryption key comes from KLUIS_SECRET;
 * in development (http issuer) without it, a random master secret is generated once and kept in the database.
 * Concurrent first starts are safe: every value is inserted with ON CONFLICT DO NOTHING and read back.
 */
export async function loadServerSecrets(db: Database, config: Pick<Config, 'secret' | 'production'>): Promise<ServerSecrets> {
  let master = config.secret;
  if (!master) {
    if (config.production) throw new ConfigError('KLUIS_SECRET is required when ISSUER is https (production)');
    master = await getOrCreate(db, DEV_MASTER, () => randomBytes(48).toString('base64url'));
  }
  const box = SecretBox.fromMasterSecret(master);

  const check = await getOrCreate(db, KEK_CHECK, () => box.encrypt(CHECK_PLAINTEXT, KEK_CHECK));
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
    cookieKeys: JSON.parse(await sealedValue(db, box, COOKIE_KEYS, () => JSON.stringify([randomBytes(32).toString('base64url')]))) as string[],
    pairwiseSalt: await sealedValue(db, box, PAIRWISE_SALT, () => randomBytes(32).toString('base64url')),
    dpopNonceSecret: Buffer.from(await sealedValue(db, box, DPOP_NONCE_SECRET, () => randomBytes(32).toString('base64url')), 'base64url'),
  };
}

/**
 * A secret value kept in `server_secrets`, encrypted under `name` as its purpose; created by `create` on first use.
 * Concurrent first calls agree on one value.
 */
export async function sealedValue(db: Database, box: SecretBox, name: string, create: () => string): Promise<string> {
  return box.decrypt(await getOrCreate(db, name, () => box.encrypt(create(), name)), name);
}

async function getOrCreate(db: Database, name: string, create: () => string): Promise<string> {
  await db.query('insert into server_secrets (name, value) values ($1, $2) on conflict (name) do nothing', [name, create()]);
  const { rows } = await db.query<{ value: string }>('select value from server_secrets where name = $1', [name]);
  return rows[0]!.value;
}

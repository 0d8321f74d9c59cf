import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Database } from '../../db/database.ts';
import { algorithmsWithoutKey, insertKey, listPublishedKeys, retireKeys, withKeysLock } from '../../db/signing-keys.ts';
import type { SecretBox } from '../../secrets/secret-box.ts';
import { SIGNING_ALGS, type SigningAlg } from '../../config/protocol-constants.ts';

const PRIVATE_KEY_PURPOSE = 'signing key';

export interface KeyRing {
  /** Private JWKs in signing-preference order, for oidc-provider's `jwks`. */
  jwks: { keys: JWK[] };
  /** Changes whenever the set of keys or their states change; used to decide when to rebuild the provider. */
  fingerprint: string;
}

async function newKey(alg: SigningAlg, box: SecretBox) {
  // RSA 2048 is FAPI's floor (FAPI 2.0 SP 5.4.1); P-256 and Ed25519 are fixed-size.
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const { d, p, q, dp, dq, qi, ...publicPart } = jwk;
  const privateJwk = { ...jwk, kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    publicJwk: { ...publicPart, kid, alg, use: 'sig' },
    privateJwkEncrypted: box.encrypt(JSON.stringify(privateJwk), PRIVATE_KEY_PURPOSE),
  };
}

/** First start: one active key per algorithm. A no-op when keys exist; safe when processes start together. */
export async function ensureSigningKeys(db: Database, box: SecretBox): Promise<string[]> {
  return withKeysLock(db, async (tx) => {
    const missing = (await algorithmsWithoutKey(tx, SIGNING_ALGS)) as SigningAlg[];
    const created: string[] = [];
    for (const alg of missing) {
      const key = await newKey(alg, box);
      await insertKey(tx, key, 0);
      created.push(key.kid);
    }
    return created;
  });
}

export interface Rotation {
  alg: string;
  kid: string;
  retired: string[];
}

/**
 * Adds a new key per algorithm. It is published at once and signs only after `overlap` seconds, so relying
 * parties that cache the JWKS learn it first; the keys it replaces stop signing then and stay published for
 * `retention` more seconds, so tokens they signed remain verifiable.
 */
export async function rotateSigningKeys(
  db: Database,
  box: SecretBox,
  { overlap, retention }: { overlap: number; retention: number },
): Promise<Rotation[]> {
  const keys = await Promise.all(SIGNING_ALGS.map((alg) => newKey(alg, box)));
  return withKeysLock(db, async (tx) => {
    const rotations: Rotation[] = [];
    for (const key of keys) {
      await insertKey(tx, key, overlap);
      rotations.push({
        alg: key.alg,
        kid: key.kid,
        retired: await retireKeys(tx, key.alg, key.kid, overlap, retention),
      });
    }
    return rotations;
  });
}

/** The published keys, decrypted, in the order oidc-provider should prefer them for signing. */
export async function loadKeyRing(db: Database, box: SecretBox): Promise<KeyRing> {
  const stored = await listPublishedKeys(db);
  return {
    jwks: { keys: stored.map((key) => JSON.parse(box.decrypt(key.privateJwkEncrypted, PRIVATE_KEY_PURPOSE)) as JWK) },
    fingerprint: stored.map((key) => `${key.kid}:${key.state}`).join(','),
  };
}

import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { KluisError } from '../errors.ts';

const VERSION = 'v1';

export class DecryptionFailed extends KluisError {
  override name = 'DecryptionFailed';
  readonly code = 'ERR_DECRYPTION_FAILED';
  override readonly status = 500;
  override readonly expose = false;
}

/**
 * AES-256-GCM under the key-encryption key. Each value is bound to a purpose string (used as additional
 * authenticated data), so a ciphertext copied from one column into another fails to decrypt.
 * Format: `v1.<iv>.<ciphertext>.<tag>`, base64url parts.
 */
export class SecretBox {
  readonly #key: Buffer;
  /** A key of its own for {@link keyedHash}, so hashing and encryption never share key material. */
  readonly #hashKey: KeyObject;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new TypeError('SecretBox needs a 32-byte key');
    this.#key = key;
    // A KeyObject, made once: HMAC under a raw Buffer key costs ~10 µs a call against ~2 µs (every token lookup
    // hashes).
    this.#hashKey = createSecretKey(Buffer.from(hkdfSync('sha256', key, 'kluis', 'kluis keyed hash v1', 32)));
  }

  /**
   * Derives the key-encryption key from the master secret with HKDF-SHA256 (RFC 5869) alone: the derivation of
   * databases set up before the master secret was stretched (no `kek_kdf` row, see server-secrets.ts), and of the
   * generated development secret.
   */
  static fromMasterSecret(secret: string): SecretBox {
    return new SecretBox(Buffer.from(hkdfSync('sha256', secret, 'kluis', 'kluis key-encryption key v1', 32)));
  }

  /** Derives the key-encryption key with HKDF-SHA256 from the master secret as argon2id stretched it. */
  static fromStretchedSecret(stretched: Buffer): SecretBox {
    return new SecretBox(Buffer.from(hkdfSync('sha256', stretched, 'kluis', 'kluis key-encryption key v2', 32)));
  }

  /**
   * HMAC-SHA256 of `value` under a key derived from the key-encryption key, bound to `purpose`: what Kluis stores in
   * place of a bearer value it must recognise again but never reveal (token ids, one-time codes). Without the master
   * secret a database dump cannot turn these back into usable values, nor test guesses against them offline.
   */
  keyedHash(value: string, purpose: string): string {
    return createHmac('sha256', this.#hashKey).update(purpose).update('\0').update(value).digest('base64url');
  }

  encrypt(plaintext: string, purpose: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(purpose));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv, ciphertext, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  decrypt(sealed: string, purpose: string): string {
    const [version, iv, ciphertext, tag] = sealed.split('.');
    if (version !== VERSION || !iv || ciphertext === undefined || !tag)
      throw new DecryptionFailed(`not a sealed value for ${purpose}`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new DecryptionFailed(`cannot decrypt ${purpose}: wrong key-encryption key or altered value`, {
        cause: err,
      });
    }
  }
}

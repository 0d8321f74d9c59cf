/** The strength production asks of KLUIS_SECRET: as much randomness as the AES-256 key derived from it. */
export const MASTER_SECRET_BITS = 256;

/**
 * How many bits of randomness `secret` carries at most, judged by its length and the characters it uses. Only the
 * encodings of random bytes count: hex (4 bits a character) and base64 or base64url (6 bits, padding excluded);
 * anything else (a passphrase, a sentence) counts as 0. The key-encryption key is derived with HKDF, which adds no
 * work factor, and a dump holds a known-plaintext check value, so a guessable secret could be searched offline: the
 * secret must be as strong as the key (NIST SP 800-133r2 6.3: a derived key is no stronger than its source).
 * Random output also shows its alphabet: base64 of 32 bytes has upper- and lower-case letters (missing either:
 * about 1 in 10^9), hex has letters and digits, and either uses at least a third of the characters it could. A
 * string that does not (`"a"` × 64, a lower-case phrase, repeated words) counts as 0.
 */
export function encodedRandomBits(secret: string): number {
  const body = secret.replace(/=+$/, '');
  const distinct = new Set(body).size;
  const hex = (/^[0-9a-f]+$/.test(body) || /^[0-9A-F]+$/.test(body)) && /[0-9]/.test(body) && /[a-fA-F]/.test(body);
  if (hex && distinct >= Math.min(16, body.length) / 3) return body.length * 4;
  const base64 = (/^[A-Za-z0-9+/]+$/.test(body) || /^[A-Za-z0-9_-]+$/.test(body)) && /[a-z]/.test(body) && /[A-Z]/.test(body);
  if (base64 && distinct >= Math.min(64, body.length) / 3) return body.length * 6;
  return 0;
}

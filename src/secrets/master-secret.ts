/** The strength production asks of KLUIS_SECRET: as much randomness as the AES-256 key derived from it. */
export const MASTER_SECRET_BITS = 256;

/**
 * How many bits of randomness `secret` carries at most, judged by its length and the characters it uses. Only the
 * encodings of random bytes count: hex (4 bits a character) and base64 or base64url (6 bits, padding excluded);
 * anything else (a passphrase, a sentence) counts as 0. A dump holds a known-plaintext check value of the
 * key-encryption key, so a guessable secret could be searched offline: the secret must be as strong as the key
 * (NIST SP 800-133r2 6.3: a derived key is no stronger than its source).
 * Random output also shows its alphabet: base64 of 32 bytes has upper- and lower-case letters (missing either:
 * about 1 in 10^9), hex has letters and digits, and either uses at least a third of the characters it could. A
 * string that does not (`"a"` × 64, a lower-case phrase) counts as 0, and so does one with the marks of a string
 * made by hand rather than drawn at random: a repeated piece or a run of consecutive characters (`abcde`, `98765`;
 * see {@link madeByHand}).
 */
export function encodedRandomBits(secret: string): number {
  const body = secret.replace(/=+$/, '');
  const distinct = new Set(body).size;
  const hex = (/^[0-9a-f]+$/.test(body) || /^[0-9A-F]+$/.test(body)) && /[0-9]/.test(body) && /[a-fA-F]/.test(body);
  if (hex && distinct >= Math.min(16, body.length) / 3) return madeByHand(body, 4) ? 0 : body.length * 4;
  const base64 =
    (/^[A-Za-z0-9+/]+$/.test(body) || /^[A-Za-z0-9_-]+$/.test(body)) && /[a-z]/.test(body) && /[A-Z]/.test(body);
  if (base64 && distinct >= Math.min(64, body.length) / 3) return madeByHand(body, 6) ? 0 : body.length * 6;
  return 0;
}

/**
 * Whether an encoded string repeats a piece of 36 bits or more (6 base64 or 9 hex characters: `Secret2024` twice,
 * `0123456789abcdef` × 4) or has a run of 5 steps or more through consecutive code points, up or down (5 base64
 * characters such as `abcde`, 7 hex characters such as `0123456`). Random output does either so rarely that none of
 * 200,000 random 32-byte secrets in each of hex, base64 and base64url was refused (docs/operator-guide.md, "Secrets
 * and keys"); the hex lengths are longer because each hex character is a quarter as likely to continue a pattern by
 * chance.
 */
function madeByHand(body: string, bitsPerCharacter: number): boolean {
  const piece = Math.ceil(36 / bitsPerCharacter);
  const run = 1 + Math.ceil(24 / bitsPerCharacter);
  const seen = new Set<string>();
  for (let i = 0; i + piece <= body.length; i += 1) {
    const part = body.slice(i, i + piece);
    if (seen.has(part)) return true;
    seen.add(part);
  }
  let up = 1;
  let down = 1;
  for (let i = 1; i < body.length; i += 1) {
    const step = body.charCodeAt(i) - body.charCodeAt(i - 1);
    up = step === 1 ? up + 1 : 1;
    down = step === -1 ? down + 1 : 1;
    if (up >= run || down >= run) return true;
  }
  return false;
}

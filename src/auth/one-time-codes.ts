import { randomInt } from 'node:crypto';

/** No 0/o, 1/l/i: these codes are read aloud, printed on letters and typed by people. 31 letters, ~4.95 bits each. */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** A random code of `length` characters (a multiple of 4), shown in groups of four: `abcd-efgh-…`. */
export function newCode(length: number): string {
  const chars = Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  return chars.replace(/(.{4})(?=.)/g, '$1-');
}

/** What a person typed, without case, spaces or dashes: the form a code is hashed in. */
export function normaliseCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

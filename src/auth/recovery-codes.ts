import { createHash } from 'node:crypto';
import type { SecretBox } from '../secrets/secret-box.ts';
import { newCode, normaliseCode } from './one-time-codes.ts';

const PURPOSE = 'recovery code';
/** 24 characters of 31: ~118.9 bits, at least the 112 bits ASVS 4.0.3 2.6.2 asks of a look-up secret. */
const LENGTH = 24;
/** Codes made before migration 0008: 12 characters (~59.5 bits), stored as unsalted SHA-256. */
const LEGACY_LENGTH = 12;

/** Ten codes, shown once, stored only as keyed hashes, each usable once in place of a TOTP code. */
export function newRecoveryCodes(count = 10): string[] {
  return Array.from({ length: count }, () => newCode(LENGTH));
}

/**
 * What a typed code is looked up by: its HMAC under a key derived from KLUIS_SECRET (a dump alone cannot test
 * guesses), and for a 12-character code of the old format its SHA-256, which old rows still hold.
 */
export interface RecoveryCodeHashes {
  keyed: string;
  legacy: string | null;
}

export function hashRecoveryCode(box: SecretBox, code: string): RecoveryCodeHashes {
  const normalised = normaliseCode(code);
  return {
    keyed: box.keyedHash(normalised, PURPOSE),
    legacy: normalised.length === LEGACY_LENGTH ? createHash('sha256').update(normalised).digest('hex') : null,
  };
}

export function looksLikeRecoveryCode(code: string): boolean {
  const normalised = normaliseCode(code);
  return /^[a-z0-9\s-]+$/i.test(code.trim()) && (normalised.length === LENGTH || normalised.length === LEGACY_LENGTH);
}

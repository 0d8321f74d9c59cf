import { createHash } from 'node:crypto';
import { rewrapSha256RecoveryCodes } from '../db/second-factors.ts';
import type { Database } from '../db/database.ts';
import { runOnce } from '../db/run-once.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { newCode, normaliseCode } from './one-time-codes.ts';

const PURPOSE = 'recovery code';
/** The keyed hash over the SHA-256 hex that rows made before migration 0008 held (scheme 'hmac-sha256'). */
const LEGACY_PURPOSE = 'recovery code sha256';
const REWRAPPED = 'recovery_codes_rewrapped';
const BATCH = 1000;
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
 * guesses), and for a 12-character code of the old format the HMAC of its SHA-256, which re-wrapped rows hold.
 */
export interface RecoveryCodeHashes {
  keyed: string;
  legacy: string | null;
}

const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');
const legacyWrap = (box: SecretBox, stored: string) => box.keyedHash(stored, LEGACY_PURPOSE);

export function hashRecoveryCode(box: SecretBox, code: string): RecoveryCodeHashes {
  const normalised = normaliseCode(code);
  return {
    keyed: box.keyedHash(normalised, PURPOSE),
    legacy: normalised.length === LEGACY_LENGTH ? legacyWrap(box, sha256Hex(normalised)) : null,
  };
}

/**
 * Rows made before migration 0008 hold an unsalted SHA-256 of a 12-character code, which a dump lets anyone crack.
 * Run once at start (the server's and the CLI's, as it needs KLUIS_SECRET): each such row becomes the keyed hash of
 * that SHA-256 (scheme 'hmac-sha256'), so the code keeps working, once, and the dump no longer helps.
 */
export function rewrapLegacyRecoveryCodes(db: Database, box: SecretBox): Promise<number> {
  return runOnce(db, REWRAPPED, (tx) => rewrapSha256RecoveryCodes(tx, (stored) => legacyWrap(box, stored), BATCH));
}

export function looksLikeRecoveryCode(code: string): boolean {
  const normalised = normaliseCode(code);
  return /^[a-z0-9\s-]+$/i.test(code.trim()) && (normalised.length === LENGTH || normalised.length === LEGACY_LENGTH);
}

import { createHash } from 'node:crypto';
import type { Database } from '../db/database.ts';
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
 * that SHA-256 (scheme 'hmac-sha256'), so the code keeps working, once, and the dump no longer helps. Under an
 * advisory lock, so processes starting together take turns; a marker row makes later starts skip it after one select.
 */
export async function rewrapLegacyRecoveryCodes(db: Database, box: SecretBox): Promise<number> {
  const done = await db.query('select 1 from server_secrets where name = $1', [REWRAPPED]);
  if (done.rowCount) return 0;
  return db.transaction(async (tx) => {
    await tx.query(`select pg_advisory_xact_lock(hashtext('kluis.recovery_codes'))`);
    let rewrapped = 0;
    for (;;) {
      const { rows } = await tx.query<{ account_id: string; code_hash: string }>(
        `select account_id, code_hash from recovery_codes where scheme = 'sha256' limit $1`,
        [BATCH],
      );
      await tx.query(
        `update recovery_codes r set code_hash = n.wrapped, scheme = 'hmac-sha256'
         from unnest($1::text[], $2::text[], $3::text[]) as n (account_id, code_hash, wrapped)
         where r.account_id = n.account_id and r.code_hash = n.code_hash and r.scheme = 'sha256'`,
        [rows.map((r) => r.account_id), rows.map((r) => r.code_hash), rows.map((r) => legacyWrap(box, r.code_hash))],
      );
      rewrapped += rows.length;
      if (rows.length < BATCH) break;
    }
    // The value is no secret: it only records that the step ran.
    await tx.query('insert into server_secrets (name, value) values ($1, $2) on conflict (name) do nothing', [
      REWRAPPED,
      'hmac-sha256 v1',
    ]);
    return rewrapped;
  });
}

export function looksLikeRecoveryCode(code: string): boolean {
  const normalised = normaliseCode(code);
  return /^[a-z0-9\s-]+$/i.test(code.trim()) && (normalised.length === LENGTH || normalised.length === LEGACY_LENGTH);
}

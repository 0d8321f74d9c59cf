import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error.ts';

/** The directory's public keys: a JWKS read from a file at boot, or an https URL fetched (and cached) when needed. */
export type TrustedJwks = { keys: Record<string, unknown>[] } | URL;

/** SOFTWARE_STATEMENT_JWKS: an https URL, or a file holding a JWKS of public keys (checked now, not at first use). */
export function loadTrustedJwks(value: string): TrustedJwks {
  if (/^https?:\/\//.test(value)) {
    if (!value.startsWith('https://')) {
      throw new ConfigError('SOFTWARE_STATEMENT_JWKS must be an https URL or a file path');
    }
    return new URL(value);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(value, 'utf8'));
  } catch (err) {
    throw new ConfigError(`SOFTWARE_STATEMENT_JWKS: cannot read a JSON file at ${value} (${(err as Error).message})`);
  }
  const keys = (parsed as { keys?: unknown }).keys;
  const isKey = (key: unknown) => typeof key === 'object' && key !== null && 'kty' in key;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every(isKey)) {
    throw new ConfigError(`SOFTWARE_STATEMENT_JWKS: ${value} must hold a JWKS, {"keys": [...]} with at least one key`);
  }
  if (keys.some((key) => 'd' in key)) {
    throw new ConfigError(`SOFTWARE_STATEMENT_JWKS: ${value} holds a private key; give the public keys only`);
  }
  return { keys: keys as Record<string, unknown>[] };
}

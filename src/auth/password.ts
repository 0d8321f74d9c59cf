import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import pLimit from 'p-limit';

export interface Argon2Parameters {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

/** OWASP Password Storage Cheat Sheet minimum for argon2id: m=19456 KiB, t=2, p=1. */
export const OWASP_MINIMUM: Argon2Parameters = { memoryKiB: 19456, iterations: 2, parallelism: 1 };

/** Passwords longer than this are refused rather than silently truncated (ASVS 6.2.9 asks for at least 64). */
export const MAX_PASSWORD_LENGTH = 1024;

/** The parameters an argon2id PHC string (`$argon2id$v=19$m=…,p=…,t=…$salt$hash`) was made with, if it is one. */
export function parametersOf(phc: string): Argon2Parameters | undefined {
  const fields = /^\$argon2id\$v=\d+\$([^$]+)\$/.exec(phc)?.[1];
  const values = new Map(fields?.split(',').map((field) => field.split('=') as [string, string]));
  const [m, t, p] = ['m', 't', 'p'].map((key) => Number(values.get(key)));
  return m && t && p ? { memoryKiB: m, iterations: t, parallelism: p } : undefined;
}

/**
 * Every argon2 hash and verification of this process takes one of these slots, as many as there are cores. Each
 * holds ARGON2_MEMORY_KIB (19 MiB by default) while it runs: on libuv's four threads a burst of sign-ins would hold
 * four times that, and take the threads DNS and file work need, for no more throughput, since the work is CPU-bound.
 * The rest wait their turn here.
 */
export const argon2Slots = pLimit(availableParallelism());

/** argon2id with explicit parameters; the PHC string records them, so old hashes keep verifying. */
export class PasswordHasher {
  readonly #parameters: Argon2Parameters;

  constructor(parameters: Argon2Parameters) {
    this.#parameters = parameters;
  }

  /** A new hash with the configured parameters, or with `parameters` (only for dummies made like older hashes). */
  hash(password: string, parameters: Argon2Parameters = this.#parameters): Promise<string> {
    const { memoryKiB, iterations, parallelism } = parameters;
    return argon2Slots(() =>
      argon2.hash(password, { type: argon2.argon2id, memoryCost: memoryKiB, timeCost: iterations, parallelism }),
    );
  }

  async verify(hash: string, password: string): Promise<boolean> {
    if (password.length > MAX_PASSWORD_LENGTH) return false;
    return argon2Slots(() => argon2.verify(hash, password)).catch(() => false);
  }

  /** True when `hash` was made with other parameters than the configured ones (rehash at next login). */
  needsRehash(hash: string): boolean {
    const { memoryKiB, iterations, parallelism } = this.#parameters;
    return argon2.needsRehash(hash, { memoryCost: memoryKiB, timeCost: iterations, parallelism });
  }
}

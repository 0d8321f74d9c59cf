import argon2 from 'argon2';

export interface Argon2Parameters {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

/** OWASP Password Storage Cheat Sheet minimum for argon2id: m=19456 KiB, t=2, p=1. */
export const OWASP_MINIMUM: Argon2Parameters = { memoryKiB: 19456, iterations: 2, parallelism: 1 };

/** Passwords longer than this are refused rather than silently truncated (ASVS 6.2.9 asks for at least 64). */
export const MAX_PASSWORD_LENGTH = 1024;

/** argon2id with explicit parameters; the PHC string records them, so old hashes keep verifying. */
export class PasswordHasher {
  readonly #options: argon2.HashOptions;
  #dummy: Promise<string> | undefined;

  constructor(parameters: Argon2Parameters) {
    this.#options = {
      type: argon2.argon2id,
      memoryCost: parameters.memoryKiB,
      timeCost: parameters.iterations,
      parallelism: parameters.parallelism,
    };
  }

  hash(password: string): Promise<string> {
    return argon2.hash(password, this.#options);
  }

  /** Verifies `password`; with no hash (unknown user) it verifies against a dummy so timing does not tell. */
  async verify(hash: string | undefined, password: string): Promise<boolean> {
    if (password.length > MAX_PASSWORD_LENGTH) return false;
    if (hash === undefined) {
      this.#dummy ??= this.hash('kluis dummy password for unknown users');
      await argon2.verify(await this.#dummy, password).catch(() => false);
      return false;
    }
    return argon2.verify(hash, password).catch(() => false);
  }

  /** True when `hash` was made with other parameters than the configured ones (rehash at next login). */
  needsRehash(hash: string): boolean {
    const { memoryCost, timeCost, parallelism } = this.#options;
    return argon2.needsRehash(hash, { memoryCost, timeCost, parallelism });
  }
}

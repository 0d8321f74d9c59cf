import type { AccountRecord, AccountRecords } from '../db/account-store.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { type Argon2Parameters, PasswordHasher, parametersOf } from './password.ts';

/** A password hash made with the current ARGON2_* settings, sealed in the step until the second factor is in. */
const REHASH_PURPOSE = 'password rehash';
/** What unknown usernames and wrong passwords are hashed as; never stored. */
const DUMMY_PASSWORD = 'kluis dummy password';

/** What checking a password found: whether it is right, and a new hash of it (sealed) when the stored one is old. */
export interface PasswordVerdict {
  passwordOk: boolean;
  rehash: string | null;
}

/**
 * The knowledge factor, checked with work that does not depend on the outcome (the password step is not counted
 * towards the lockout, so it must tell nothing, RTS Art 4(3)(a)): unknown usernames are checked against a dummy
 * hash, and a hash made with older ARGON2_* settings gets a new hash whether or not the password matched.
 */
export class PasswordCheck {
  readonly #store: Pick<AccountRecords, 'commonPasswordParameters'>;
  readonly #box: SecretBox;
  readonly #hasher: PasswordHasher;
  /** The hash unknown usernames are checked against; see {@link PasswordCheck.#unknownUserHash}. */
  #dummyHash: Promise<string> | undefined;

  constructor(store: Pick<AccountRecords, 'commonPasswordParameters'>, box: SecretBox, argon2: Argon2Parameters) {
    this.#store = store;
    this.#box = box;
    this.#hasher = new PasswordHasher(argon2);
  }

  /** Checks `password` against `account`'s hash, or against the dummy when there is no such account. */
  async check(account: AccountRecord | undefined, password: string): Promise<PasswordVerdict> {
    const stored = account?.passwordHash ?? (await this.#unknownUserHash());
    const passwordOk = (await this.#hasher.verify(stored, password)) && account !== undefined;
    const rehash = this.#hasher.needsRehash(stored)
      ? this.#box.encrypt(await this.#hasher.hash(passwordOk ? password : DUMMY_PASSWORD), REHASH_PURPOSE)
      : null;
    return { passwordOk, rehash };
  }

  /** The new hash a verdict sealed, to be stored once the second factor is in. */
  openRehash(sealed: string): string {
    return this.#box.decrypt(sealed, REHASH_PURPOSE);
  }

  /**
   * A dummy made with the parameters most stored hashes have, so an unknown username costs what a typical account
   * costs: after an ARGON2_* change, most accounts still have the old parameters and take a verification plus a
   * rehash, and so do unknown usernames; once most have been rehashed (or on a fresh database), a verification
   * with the current ones. Settled once per process (on its first password step; a restart follows the majority).
   */
  #unknownUserHash(): Promise<string> {
    this.#dummyHash ??= this.#store.commonPasswordParameters().then(
      (common) => this.#hasher.hash(DUMMY_PASSWORD, (common && parametersOf(common)) || undefined),
      (err: unknown) => {
        this.#dummyHash = undefined;
        throw err;
      },
    );
    return this.#dummyHash;
  }
}

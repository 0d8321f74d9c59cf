import { randomUUID } from 'node:crypto';
import { MAX_PASSWORD_LENGTH, PasswordHasher } from '../auth/password.ts';
import { issueActivationCode } from '../auth/activation-codes.ts';
import { TOTP_PURPOSE } from '../auth/sign-in.ts';
import { newTotpSecret, totpUri } from '../auth/totp.ts';
import type { Config } from '../config/env.ts';
import { PgAccountStore } from '../db/account-store.ts';
import { UniqueViolation } from '../db/errors.ts';
import { retiredUntil } from '../db/retired-usernames.ts';
import type { PeopleDeps } from './deps.ts';
import { usernameHash } from './erasure.ts';
import { InvalidPerson, UserExists, UsernameRetired } from './errors.ts';

const MIN_PASSWORD_LENGTH = 8; // OWASP ASVS 5.0 6.2.1

export interface NewPerson {
  username: string;
  password: string;
  email?: string | undefined;
  name?: string | undefined;
  /** Pre-enrol an authenticator instead of issuing an activation code. */
  totp?: boolean | undefined;
  /** Further profile claims (OIDC Core 5.1), e.g. given_name; `name` is added to them. */
  claims?: Record<string, unknown> | undefined;
}

/**
 * Who adds the person, for the audit log. Kluis adds only its own demo person: no one else can take that name over,
 * so a quarantine left by an earlier erasure does not hold it back.
 */
export type AddedBy = { actor: 'operator' } | { actor: 'system'; details: Record<string, unknown> };

function checkNewPerson({ username, password, email }: NewPerson): void {
  if (!/^[\p{L}\p{N}._@+-]{1,64}$/u.test(username))
    throw new InvalidPerson('USERNAME must be 1-64 letters, digits or . _ @ + -');
  if (email !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email))
    throw new InvalidPerson('the email must be an email address');
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new InvalidPerson(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH)
    throw new InvalidPerson(`the password must have at most ${MAX_PASSWORD_LENGTH} characters`);
}

/**
 * Adds a person. With `totp` the account is pre-enrolled (the otpauth URI is returned once); without it the account
 * cannot sign in until the person activates it: the returned activation code, handed over out of band, is taken at
 * the code page together with the password, and only then is an authenticator enrolled (PSD2 RTS Art 4(3)(a): the
 * password alone never enrols one).
 */
export async function addPerson(
  {
    db,
    accounts,
    secrets,
    audit,
    config,
  }: Pick<PeopleDeps, 'db' | 'accounts' | 'secrets' | 'audit'> & { config: Pick<Config, 'brand' | 'sca'> },
  person: NewPerson,
  by: AddedBy = { actor: 'operator' },
) {
  checkNewPerson(person);
  const { username, email, name } = person;
  if (await accounts.findByUsername(username)) throw new UserExists(`a user ${username} already exists`);
  const retired = by.actor === 'operator' && (await retiredUntil(db, usernameHash(secrets.pairwiseSalt, username)));
  if (retired) {
    throw new UsernameRetired(
      `the username ${username} belonged to a deleted account; it is available again after ${retired.toISOString()}`,
    );
  }

  const secret = person.totp ? newTotpSecret() : null;
  const id = randomUUID();
  const passwordHash = await new PasswordHasher(config.sca.argon2).hash(person.password);
  let activation: { code: string; expiresAt: Date } | undefined;
  try {
    activation = await db.transaction(async (tx) => {
      const store = new PgAccountStore(tx);
      await store.insert({
        id,
        username,
        email: email ?? null,
        passwordHash,
        claims: { ...person.claims, ...(name ? { name } : {}) },
        totpSecretEncrypted: secret ? secrets.box.encrypt(secret, TOTP_PURPOSE) : null,
      });
      return secret ? undefined : issueActivationCode(store, secrets.box, id, config.sca.activationCodeTtl);
    });
  } catch (err) {
    if (err instanceof UniqueViolation)
      throw new UserExists('a user with that username or email already exists', { cause: err });
    throw err;
  }
  await audit.record({
    type: 'account.created',
    actor: by.actor,
    accountId: id,
    details: { ...(by.actor === 'system' ? by.details : {}), totp_preenrolled: !!secret, activation_code: !secret },
  });
  return {
    id,
    username,
    email: email ?? null,
    // Shown once, for the operator to hand over (e.g. as a QR code); stored only encrypted. Labelled as the pages
    // label the entry they enrol: with the brand name.
    ...(secret ? { otpauth_uri: totpUri(secret, config.brand.name, username) } : {}),
    // Shown once, for the operator to hand over out of band; stored only as a keyed hash.
    ...(activation
      ? { activation_code: activation.code, activation_code_expires_at: activation.expiresAt.toISOString() }
      : {}),
  };
}

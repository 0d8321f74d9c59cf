import { randomUUID } from 'node:crypto';
import { PasswordHasher, MAX_PASSWORD_LENGTH } from '../auth/password.ts';
import { TOTP_PURPOSE, isLocked, issueActivationCode } from '../auth/sign-in.ts';
import { newTotpSecret, totpUri } from '../auth/totp.ts';
import * as accounts from '../db/accounts.ts';
import { unlock } from '../db/lockout.ts';
import { UniqueViolation } from '../db/errors.ts';
import { activationCodeExpiries } from '../db/activation-codes.ts';
import { usernameHash } from '../people/erasure.ts';
import { retiredUntil } from '../db/retired-usernames.ts';
import { recordSecurityEvent } from '../db/security-events.ts';
import { CliError, type CliContext } from './context.ts';

const MIN_PASSWORD_LENGTH = 8; // OWASP ASVS 5.0 6.2.1

export interface AddUserOptions {
  email?: string | undefined;
  name?: string | undefined;
  totp?: boolean | undefined;
}

/** Reads the password as given on stdin: one trailing newline is dropped, nothing else is trimmed. */
export function passwordFromInput(input: string): string {
  const password = input.endsWith('\r\n') ? input.slice(0, -2) : input.endsWith('\n') ? input.slice(0, -1) : input;
  if (password.length < MIN_PASSWORD_LENGTH) throw new CliError(`the password (on stdin) must have at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) throw new CliError(`the password must have at most ${MAX_PASSWORD_LENGTH} characters`);
  return password;
}

async function byUsername(ctx: CliContext, username: string): Promise<accounts.AccountRecord> {
  const account = await accounts.findAccountByUsername(ctx.db, username);
  if (!account) throw new CliError(`no user ${username}`);
  return account;
}

/**
 * `users add USERNAME`: password from stdin (never argv, which other users can see in ps). With `--totp` the account
 * is pre-enrolled (the otpauth URI is printed once); without it the account cannot sign in until the person
 * activates it: the printed activation code, handed over out of band, is taken at the code page together with the
 * password, and only then is an authenticator enrolled (PSD2 RTS Art 4(3)(a): the password alone never enrols one).
 */
export async function addUser(ctx: CliContext, username: string, password: string, options: AddUserOptions) {
  if (!/^[\p{L}\p{N}._@+-]{1,64}$/u.test(username)) {
    throw new CliError('USERNAME must be 1-64 letters, digits or . _ @ + -');
  }
  if (options.email !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(options.email)) throw new CliError('--email must be an email address');
  if (await accounts.findAccountByUsername(ctx.db, username)) throw new CliError(`a user ${username} already exists`);
  const retired = await retiredUntil(ctx.db, usernameHash(ctx.secrets.pairwiseSalt, username));
  if (retired) throw new CliError(`the username ${username} belonged to a deleted account; it is available again after ${retired.toISOString()}`);

  const hasher = new PasswordHasher(ctx.config.sca.argon2);
  const secret = options.totp ? newTotpSecret() : null;
  const id = randomUUID();
  const passwordHash = await hasher.hash(password);
  let activation: { code: string; expiresAt: Date } | undefined;
  try {
    activation = await ctx.db.transaction(async (tx) => {
      await accounts.insertAccount(tx, {
        id,
        username,
        email: options.email ?? null,
        passwordHash,
        claims: options.name ? { name: options.name } : {},
        totpSecretEncrypted: secret ? ctx.secrets.box.encrypt(secret, TOTP_PURPOSE) : null,
      });
      return secret ? undefined : issueActivationCode(tx, ctx.secrets.box, id, ctx.config.sca.activationCodeTtl);
    });
  } catch (err) {
    if (err instanceof UniqueViolation) throw new CliError(`a user with that username or email already exists`);
    throw err;
  }
  await ctx.audit.record({ type: 'account.created', actor: 'operator', accountId: id, details: { totp_preenrolled: !!secret, activation_code: !secret } });
  return {
    id,
    username,
    email: options.email ?? null,
    // Shown once, for the operator to hand over (e.g. as a QR code); stored only encrypted.
    ...(secret ? { otpauth_uri: totpUri(secret, new URL(ctx.config.issuer).host, username) } : {}),
    // Shown once, for the operator to hand over out of band; stored only as a keyed hash.
    ...(activation ? { activation_code: activation.code, activation_code_expires_at: activation.expiresAt.toISOString() } : {}),
  };
}

export async function listUsers(ctx: CliContext) {
  const list = [];
  const activation = await activationCodeExpiries(ctx.db);
  for (const account of await accounts.listAccounts(ctx.db)) {
    const activationUntil = account.totpSecretEncrypted ? null : (activation.get(account.id) ?? null);
    list.push({
      id: account.id,
      username: account.username,
      email: account.email,
      status: account.status === 'active' && isLocked(account) ? 'locked' : account.status,
      locked_until: isLocked(account) ? account.lockedUntil!.toISOString() : null,
      // 'not enrolled' without a live activation code: `users reset-mfa` issues a new one.
      mfa: account.totpSecretEncrypted ? 'totp' : activationUntil ? 'awaiting activation' : 'not enrolled',
      activation_code_expires_at: activationUntil?.toISOString() ?? null,
      created_at: account.createdAt.toISOString(),
    });
  }
  return list;
}

export async function unlockUser(ctx: CliContext, username: string) {
  const account = await byUsername(ctx, username);
  await unlock(ctx.db, account.id);
  await ctx.audit.record({ type: 'account.unlocked', actor: 'operator', accountId: account.id });
  await recordSecurityEvent(ctx.db, account.id, 'account.unlocked');
  return { username: account.username, status: account.status };
}

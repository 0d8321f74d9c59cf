import { randomUUID } from 'node:crypto';
import { PasswordHasher, MAX_PASSWORD_LENGTH } from '../auth/password.ts';
import { TOTP_PURPOSE, isLocked } from '../auth/sign-in.ts';
import { newTotpSecret, totpUri } from '../auth/totp.ts';
import * as accounts from '../db/accounts.ts';
import { usernameHash } from '../account/erasure.ts';
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

/** `users add USERNAME`: password from stdin (never argv, which other users can see in ps). */
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
  try {
    await accounts.insertAccount(ctx.db, {
      id,
      username,
      email: options.email ?? null,
      passwordHash: await hasher.hash(password),
      claims: options.name ? { name: options.name } : {},
      totpSecretEncrypted: secret ? ctx.secrets.box.encrypt(secret, TOTP_PURPOSE) : null,
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new CliError(`a user with that username or email already exists`);
    throw err;
  }
  await ctx.audit.record({ type: 'account.created', actor: 'operator', accountId: id, details: { totp_preenrolled: !!secret } });
  return {
    id,
    username,
    email: options.email ?? null,
    // Shown once, for the operator to hand over (e.g. as a QR code); stored only encrypted.
    ...(secret ? { otpauth_uri: totpUri(secret, new URL(ctx.config.issuer).host, username) } : {}),
  };
}

export async function listUsers(ctx: CliContext) {
  return (await accounts.listAccounts(ctx.db)).map((account) => ({
    id: account.id,
    username: account.username,
    email: account.email,
    status: account.status === 'active' && isLocked(account) ? 'locked' : account.status,
    locked_until: isLocked(account) ? account.lockedUntil!.toISOString() : null,
    mfa: account.totpSecretEncrypted ? 'totp' : 'not enrolled',
    created_at: account.createdAt.toISOString(),
  }));
}

export async function unlockUser(ctx: CliContext, username: string) {
  const account = await byUsername(ctx, username);
  await accounts.unlock(ctx.db, account.id);
  await ctx.audit.record({ type: 'account.unlocked', actor: 'operator', accountId: account.id });
  await recordSecurityEvent(ctx.db, account.id, 'account.unlocked');
  return { username: account.username, status: account.status };
}

/** Removes the TOTP secret and recovery codes: the next sign-in enrols a new authenticator. */
export async function resetMfa(ctx: CliContext, username: string) {
  const account = await byUsername(ctx, username);
  await ctx.db.transaction((tx) => accounts.resetMfa(tx, account.id));
  await ctx.audit.record({ type: 'mfa.reset', actor: 'operator', accountId: account.id });
  await recordSecurityEvent(ctx.db, account.id, 'mfa.reset');
  return { username: account.username, mfa: 'not enrolled' };
}

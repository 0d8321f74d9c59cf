import { generate } from 'otplib';
import { openContext } from '../../src/cli/context.ts';
import { addUser, type AddUserOptions } from '../../src/cli/users.ts';

/** Adds a person the way `kluis users add` does; returns the TOTP secret when pre-enrolled. */
export async function addPerson(
  databaseUrl: string,
  username: string,
  password: string,
  options: AddUserOptions = {},
  env: Record<string, string> = {},
) {
  const ctx = await openContext({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', ...env });
  try {
    const added = await addUser(ctx, username, password, options);
    const secret = added.otpauth_uri ? new URL(added.otpauth_uri).searchParams.get('secret')! : undefined;
    return { ...added, secret };
  } finally {
    await ctx.connection.close();
  }
}

/** The TOTP code for `secret` at `offsetSteps` 30-second steps from now. */
export function totpCode(secret: string, offsetSteps = 0): Promise<string> {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });
}

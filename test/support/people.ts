import { generate } from 'otplib';
import { openContext } from '../../src/cli/context.ts';
import { addPerson as addPersonCommand, type NewPerson } from '../../src/people/add.ts';

export type AddUserOptions = Omit<NewPerson, 'username' | 'password'>;

/**
 * Adds a person with the command `kluis users add` runs; returns the TOTP secret when pre-enrolled (`totp: true`),
 * else the activation code (`activation_code`) their first sign-in takes at the code page.
 */
export async function addPerson(
  databaseUrl: string,
  username: string,
  password: string,
  options: AddUserOptions = {},
  env: Record<string, string> = {},
) {
  const ctx = await openContext({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', ...env });
  try {
    const added = await addPersonCommand(ctx, { ...options, username, password });
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

/** A recovery code as Kluis shows it: six groups of four. */
export const RECOVERY_CODE = /<li>([a-z0-9]{4}(?:-[a-z0-9]{4}){5})<\/li>/g;

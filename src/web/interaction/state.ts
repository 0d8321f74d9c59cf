import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { PasswordStep } from '../../auth/sign-in.ts';

/**
 * What the interaction app keeps between its pages, stored server-side in oidc-provider's Interaction record
 * (under `result.kluis`, which oidc-provider ignores), so it expires with the interaction and is bound to the
 * browser by oidc-provider's interaction cookie.
 */
export interface InteractionState {
  /** Anti-CSRF token for every form of this interaction. */
  csrf: string;
  /** Set by the password step; the second step consumes it (once, see `sign_in_steps`) whatever its outcome. */
  step?: PasswordStep;
  /**
   * Set once password and activation code were accepted together for an account without an authenticator: the
   * TOTP secret being enrolled, sealed under the key-encryption key.
   */
  enrolment?: { accountId: string; sealed: string };
  /** Shown once on the login page after a failed attempt. */
  error?: 'failed' | 'locked' | 'throttled';
}

interface InteractionLike {
  result?: Record<string, unknown> | undefined;
  persist(): Promise<unknown>;
}

export function readState(interaction: InteractionLike): InteractionState | undefined {
  return (interaction.result?.kluis as InteractionState | undefined) ?? undefined;
}

export async function writeState(interaction: InteractionLike, state: InteractionState): Promise<void> {
  interaction.result = { ...(interaction.result ?? {}), kluis: state };
  await interaction.persist();
}

export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

export function csrfMatches(state: InteractionState | undefined, submitted: unknown): boolean {
  return !!state && tokensMatch(state.csrf, submitted);
}

/** A submitted anti-forgery token against the expected one, in constant time. */
export function tokensMatch(expected: string, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}

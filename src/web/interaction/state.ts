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
  /**
   * Set by "Not you?" on the consent page: the sign-in stages again, for whoever signs in now. When that is another
   * account, oidc-provider ends the first one's session before it goes on (its resume step, an end-session form post).
   */
  switching?: true;
}

/**
 * Where an interaction stands, from oidc-provider's prompt and the state above, and how it moves on:
 *
 *   signing-in     (prompt login)            POST login → second-factor; throttled → signing-in with an error
 *   second-factor  (prompt login, step)      POST mfa → the provider (login done) → consenting or the client;
 *                                            wrong code or locked → signing-in with an error; an account without
 *                                            an authenticator and a right activation code → enrolling
 *   enrolling      (prompt login, enrolment) POST enrol → recovery codes page → the provider (login done);
 *                                            a wrong code → enrolling with an error
 *   consenting     (prompt consent)          POST consent → the provider (consent saved) → the client;
 *                                            POST switch ("Not you?") → signing-in, for whoever signs in now
 *   decided        (a result is saved)       nothing but the provider's resume (the interaction's returnTo)
 *
 * POST cancel, from any stage but decided, ends the interaction with access_denied. Of the consent, the switch and
 * the cancel of one consenting stage, one is judged (claimDecision in flow.ts). A GET of a step's page in another
 * stage leads back to the interaction's own page, which shows the stage it is in.
 */
export type InteractionStage = 'signing-in' | 'second-factor' | 'enrolling' | 'consenting' | 'decided';

interface StagedInteraction {
  prompt: { name: string };
  result?: Record<string, unknown> | undefined;
}

export function stageOf(interaction: StagedInteraction, state: InteractionState): InteractionStage | undefined {
  // Once a login, consent or error is saved for oidc-provider, no page of this interaction may show or post again:
  // a page shown after it (the Back button) would decide a second time, for whoever the saved result did not name.
  const result = interaction.result ?? {};
  if ('login' in result || 'consent' in result || 'error' in result) return 'decided';
  const prompt = interaction.prompt.name;
  if (prompt === 'consent' && !state.switching) return 'consenting';
  if (prompt !== 'login' && prompt !== 'consent') return undefined;
  if (state.enrolment) return 'enrolling';
  return state.step ? 'second-factor' : 'signing-in';
}

/** The state of the next stage: the CSRF token and a switch hold for the whole interaction, the rest is the stage's. */
export function nextState(
  state: InteractionState,
  stage: Pick<InteractionState, 'step' | 'enrolment' | 'error'> = {},
): InteractionState {
  return { csrf: state.csrf, ...(state.switching ? { switching: true } : {}), ...stage };
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

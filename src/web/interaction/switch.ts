import type { Context } from 'koa';
import { seeOther } from '../page.ts';
import { claimDecision, interactionPath, loaded, signInRefused, type InteractionDependencies } from './flow.ts';
import { writeState } from './state.ts';

/** An app that names the person it expects (OIDC Core 3.1.2.1 id_token_hint) is not offered another one. */
export function switchOffered(params: Record<string, unknown>): boolean {
  return params.id_token_hint === undefined;
}

/**
 * POST switch ("Not you?" on the consent page): the sign-in pages again, in this interaction, so an authorization
 * request (a pushed one too, whose request_uri is spent) goes on for whoever signs in now. Nothing is granted to the
 * account signed in before: the consent form is refused from here on, and when another account signs in,
 * oidc-provider ends the first one's session before it goes on.
 */
export async function switchAccount(ctx: Context, { host, audit }: InteractionDependencies): Promise<void> {
  const { interaction, state } = loaded(ctx);
  if (!switchOffered(interaction.params)) {
    const description = 'The app asked for the person signed in; it cannot continue with another one.';
    throw signInRefused('ERR_INTERACTION_STEP', 400, description, 'error.signIn.step');
  }
  if (!(await claimDecision(host, interaction))) return seeOther(ctx, interactionPath(interaction));
  await writeState(interaction, { csrf: state.csrf, switching: true });
  const accountId = interaction.session!.accountId;
  await audit.record({
    type: 'consent.switched',
    actor: `account:${accountId}`,
    accountId,
    clientId: String(interaction.params.client_id),
  });
  seeOther(ctx, interactionPath(interaction));
}

import type { Context } from 'koa';
import { seeOther } from '../page.ts';
import { interactionPath, loaded, type InteractionDependencies } from './flow.ts';
import { stageOf, writeState } from './state.ts';

/** POST cancel, from any stage: the client gets access_denied; a declined consent is audited. */
export async function cancel(ctx: Context, { host, audit }: InteractionDependencies): Promise<void> {
  const { interaction, state } = loaded(ctx);
  if (stageOf(interaction.prompt.name, state) === 'consenting') {
    await audit.record({
      type: 'consent.denied',
      actor: `account:${interaction.session!.accountId}`,
      accountId: interaction.session!.accountId,
      clientId: String(interaction.params.client_id),
    });
  }
  const returnTo = await host.provider.interactionResult(
    ctx.req,
    ctx.res,
    { error: 'access_denied', error_description: 'the person declined the request' },
    { mergeWithLastSubmission: false },
  );
  seeOther(ctx, returnTo);
}

/**
 * POST switch ("Not you?" on the consent page): the sign-in pages again, in this interaction, so an authorization
 * request (a pushed one too, whose request_uri is spent) goes on for whoever signs in now. Nothing is granted to the
 * account signed in before: the consent form is refused from here on.
 */
export async function switchAccount(ctx: Context): Promise<void> {
  const { interaction, state } = loaded(ctx);
  await writeState(interaction, { csrf: state.csrf, switching: true });
  seeOther(ctx, interactionPath(interaction));
}

import type { Context } from 'koa';
import { seeOther } from '../page.ts';
import { loaded, type InteractionDependencies } from './flow.ts';

/** POST cancel, from any stage: the client gets access_denied; a declined consent is audited. */
export async function cancel(ctx: Context, { host, audit }: InteractionDependencies): Promise<void> {
  const { interaction } = loaded(ctx);
  if (interaction.prompt.name === 'consent') {
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

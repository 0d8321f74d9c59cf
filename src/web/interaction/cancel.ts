import type { Context } from 'koa';
import { seeOther } from '../page.ts';
import { claimDecision, interactionPath, loaded, type InteractionDependencies } from './flow.ts';
import { stageOf } from './state.ts';

/** POST cancel, from any stage but decided: the client gets access_denied; a declined consent is audited. */
export async function cancel(ctx: Context, { host, audit }: InteractionDependencies): Promise<void> {
  const { interaction, state } = loaded(ctx);
  if (stageOf(interaction, state) === 'consenting') {
    if (!(await claimDecision(host, interaction))) return seeOther(ctx, interactionPath(interaction));
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

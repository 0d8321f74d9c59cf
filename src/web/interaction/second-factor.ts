import type { Context } from 'koa';
import { describe } from '../../consents/details-wording.ts';
import { requestedDetails } from '../../oidc/fapi/authorization-details.ts';
import { formField } from '../forms.ts';
import { seeOther, sendPage } from '../page.ts';
import { pagesOf } from '../render.ts';
import { origin } from '../request-origin.ts';
import { interactionPath, loaded, signedIn, type InteractionDependencies } from './flow.ts';
import { nextState, stageOf, writeState } from './state.ts';

/** The code page: a TOTP code, a recovery code or (for an account without an authenticator) an activation code. */
export function secondFactorPage(ctx: Context): void {
  const { interaction, state } = loaded(ctx);
  if (stageOf(interaction, state) !== 'second-factor') {
    seeOther(ctx, interactionPath(interaction));
    return;
  }
  const i18n = pagesOf(ctx).translator(ctx);
  const details = requestedDetails(interaction.params).map((detail) => describe(detail, i18n));
  sendPage(ctx, 'interaction/mfa', { uid: interaction.uid, csrf: state.csrf, details });
}

/** POST mfa: the second step judges the code against the pending password step. */
export async function submitSecondFactor(ctx: Context, { host, signIn }: InteractionDependencies): Promise<void> {
  const { interaction, state } = loaded(ctx);
  if (!state.step) return seeOther(ctx, interactionPath(interaction));
  const outcome = await signIn.secondStep(state.step, formField(ctx, 'code', 32), origin(ctx));
  if (!outcome.ok) {
    const { reason } = outcome;
    // 'stale': another post of this step was judged; its outcome, not this one, decides what comes next.
    if (reason !== 'stale') await writeState(interaction, nextState(state, { error: reason }));
    return seeOther(ctx, interactionPath(interaction));
  }
  if ('enrol' in outcome) {
    const enrolment = { accountId: outcome.accountId, sealed: signIn.newEnrolment().sealed };
    await writeState(interaction, nextState(state, { enrolment }));
    return seeOther(ctx, interactionPath(interaction, 'enrol'));
  }
  await writeState(interaction, nextState(state));
  const returnTo = await host.provider.interactionResult(
    ctx.req,
    ctx.res,
    await signedIn(host, interaction, outcome.accountId, outcome.amr),
    { mergeWithLastSubmission: false },
  );
  seeOther(ctx, returnTo);
}

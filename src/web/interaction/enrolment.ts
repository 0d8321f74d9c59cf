import type { Context } from 'koa';
import { formField } from '../forms.ts';
import { seeOther, sendPage } from '../page.ts';
import { pagesOf } from '../render.ts';
import { origin } from '../request-origin.ts';
import { authenticatorEntry } from '../totp-entry.ts';
import { interactionPath, loaded, signedIn, type InteractionDependencies } from './flow.ts';
import { nextState, stageOf, writeState, type InteractionState } from './state.ts';

type Enrolment = NonNullable<InteractionState['enrolment']>;

async function enrolmentPage(ctx: Context, deps: InteractionDependencies, enrolment: Enrolment, error?: string) {
  const { interaction, state } = loaded(ctx);
  const account = await deps.accounts.findById(enrolment.accountId);
  const secret = deps.signIn.openEnrolment(enrolment.sealed);
  const totp = await authenticatorEntry(secret, pagesOf(ctx).brand.name, account?.username ?? 'account');
  sendPage(ctx, 'interaction/enrol', { uid: interaction.uid, csrf: state.csrf, ...totp, error }, error ? 400 : 200);
}

/** The enrolment page: only after password and activation code were accepted together (POST mfa) is a secret shown. */
export async function showEnrolment(ctx: Context, deps: InteractionDependencies): Promise<void> {
  const { interaction, state } = loaded(ctx);
  if (stageOf(interaction, state) !== 'enrolling') return seeOther(ctx, interactionPath(interaction));
  await enrolmentPage(ctx, deps, state.enrolment!);
}

/** POST enrol: a code from the new authenticator proves it; the recovery codes are shown once, then the app. */
export async function submitEnrolment(ctx: Context, deps: InteractionDependencies): Promise<void> {
  const { interaction, state } = loaded(ctx);
  const enrolment = state.enrolment;
  if (!enrolment) return seeOther(ctx, interactionPath(interaction));
  const code = formField(ctx, 'code', 32);
  const codes = await deps.signIn.confirmEnrolment(enrolment.accountId, enrolment.sealed, code, origin(ctx));
  if (!codes) {
    return enrolmentPage(ctx, deps, enrolment, 'enrol.mismatch');
  }
  await writeState(interaction, nextState(state));
  const returnTo = await deps.host.provider.interactionResult(
    ctx.req,
    ctx.res,
    await signedIn(deps.host, interaction, enrolment.accountId, ['pwd', 'otp']),
    { mergeWithLastSubmission: false },
  );
  sendPage(ctx, 'shared/recovery-codes', { codes, continueTo: returnTo });
}

import type { Context } from 'koa';
import { describe } from '../../consents/details-wording.ts';
import { appToName } from '../../oidc/clients/account-client.ts';
import { requestedDetails } from '../../oidc/fapi/authorization-details.ts';
import { formField } from '../forms.ts';
import { seeOther, sendPage } from '../page.ts';
import { pagesOf } from '../render.ts';
import { interactionPath, loaded, type InteractionDependencies } from './flow.ts';
import { nextState, writeState, type InteractionState } from './state.ts';

// One message for an unknown user, a wrong password, a wrong code and a locked account (PSD2 RTS Art 4(3)(a)):
// nothing tells which factor failed or whether the account exists (catalogue keys).
const FAILURE_MESSAGES: Record<NonNullable<InteractionState['error']>, string> = {
  failed: 'login.failed',
  locked: 'login.failed',
  throttled: 'login.throttled',
};

/** The login page: username and password (stages signing-in and second-factor). */
export async function loginPage(ctx: Context, { host }: InteractionDependencies): Promise<void> {
  const { interaction, state } = loaded(ctx);
  const found = await host.provider.Client.find(String(interaction.params.client_id));
  const client = appToName(found);
  const error = state.error && FAILURE_MESSAGES[state.error];
  // Shown once. A pending step needs no clearing: the second step consumes it in the database.
  if (state.error) await writeState(interaction, nextState(state));
  sendPage(ctx, 'interaction/login', {
    uid: interaction.uid,
    csrf: state.csrf,
    error,
    clientName: client?.clientName,
    // The account area's own sign-in: to the person's account with the brand.
    toAccount: found !== undefined && client === undefined,
    details: requestedDetails(interaction.params).map((detail) => describe(detail, pagesOf(ctx).translator(ctx))),
    // After "Not you?" the app's hint named the person who is not signing in.
    loginHint:
      typeof interaction.params.login_hint === 'string' && !state.switching ? interaction.params.login_hint : '',
  });
}

/** POST login: the password step; the code page comes next whatever it found. */
export async function submitLogin(ctx: Context, { signIn }: InteractionDependencies): Promise<void> {
  const { interaction, state } = loaded(ctx);
  if (await signIn.ipThrottled(ctx.ip)) {
    await writeState(interaction, nextState(state, { error: 'throttled' }));
    return seeOther(ctx, interactionPath(interaction));
  }
  if (state.enrolment) return seeOther(ctx, interactionPath(interaction, 'enrol'));
  const step = await signIn.passwordStep(formField(ctx, 'username', 256), formField(ctx, 'password', 1024));
  // The same code page comes next whatever the first step found: an unknown account, a wrong password and an
  // account still without an authenticator (which takes its activation code there) look alike.
  await writeState(interaction, nextState(state, { step }));
  seeOther(ctx, interactionPath(interaction, 'mfa'));
}

import Router from '@koa/router';
import { formBody } from '../forms.ts';
import { seeOther } from '../page.ts';
import { cancel } from './cancel.ts';
import { consentPage, submitConsent } from './consent.ts';
import { showEnrolment, submitEnrolment } from './enrolment.ts';
import {
  expectPrompt,
  interactionForm,
  interactionPath,
  loaded,
  loadInteraction,
  signInRefused,
  type InteractionDependencies,
} from './flow.ts';
import { loginPage, submitLogin } from './login.ts';
import { secondFactorPage, submitSecondFactor } from './second-factor.ts';
import { switchAccount } from './switch.ts';
import { stageOf } from './state.ts';

export type { InteractionDependencies } from './flow.ts';

/**
 * The pages between a client's redirect and the authorization code: sign-in with both factors, TOTP enrolment,
 * consent, "Not you?" (the stages are written down in state.ts). Every POST carries the interaction's CSRF token
 * and answers 303.
 */
export function interactionRoutes(deps: InteractionDependencies): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  // Given per route, not with `router.use`, which @koa/router may skip for another spelling of a path.
  const load = loadInteraction(deps.host);
  // A form post: the interaction loaded, the form parsed, its CSRF token checked, then its stage (not decided, and
  // for a step of one prompt that prompt's).
  const form = (prompt?: 'login' | 'consent') => [load, formBody, interactionForm, expectPrompt(prompt)];

  // The interaction's own page shows the stage it is in.
  router.get('/', load, async (ctx) => {
    const { interaction, state } = loaded(ctx);
    const stage = stageOf(interaction, state);
    // A result is saved: only oidc-provider's resume comes next.
    if (stage === 'decided') return seeOther(ctx, interaction.returnTo);
    // Password and activation code were accepted in this interaction: enrolment continues.
    if (stage === 'enrolling') return seeOther(ctx, interactionPath(interaction, 'enrol'));
    if (stage === 'signing-in' || stage === 'second-factor') return loginPage(ctx, deps);
    if (stage === 'consenting') return consentPage(ctx, deps);
    throw signInRefused('ERR_INTERACTION_STEP', 400, 'This sign-in step is not supported.', 'error.signIn.step');
  });
  router.post('/login', ...form('login'), (ctx) => submitLogin(ctx, deps));
  router.get('/mfa', load, (ctx) => secondFactorPage(ctx));
  router.post('/mfa', ...form('login'), (ctx) => submitSecondFactor(ctx, deps));
  router.get('/enrol', load, (ctx) => showEnrolment(ctx, deps));
  router.post('/enrol', ...form('login'), (ctx) => submitEnrolment(ctx, deps));
  router.post('/consent', ...form('consent'), (ctx) => submitConsent(ctx, deps));
  router.post('/switch', ...form('consent'), (ctx) => switchAccount(ctx, deps));
  router.post('/cancel', ...form(), (ctx) => cancel(ctx, deps));
  return router;
}

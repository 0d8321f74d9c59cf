import type { Context } from 'koa';
import { describe } from '../../consents/details-wording.ts';
import { isPayment, requestedDetails } from '../../oidc/fapi/authorization-details.ts';
import { formValues } from '../forms.ts';
import { seeOther, sendPage } from '../page.ts';
import { pagesOf } from '../render.ts';
import { claimDecision, interactionPath, loaded, type InteractionDependencies } from './flow.ts';
import { apisAtStake, saveGrant, scopeChoices } from './scopes.ts';
import { switchOffered } from './switch.ts';

/** The consent page: what the client asks for, each optional scope with its own box. */
export async function consentPage(ctx: Context, { host, db, accounts }: InteractionDependencies): Promise<void> {
  const { interaction, state } = loaded(ctx);
  const client = await host.provider.Client.find(String(interaction.params.client_id));
  const account = interaction.session ? await accounts.findById(interaction.session.accountId) : undefined;
  // The signed-in person's own language and zone, after the app's ui_locales.
  const { locale, zoneinfo } = (account?.claims ?? {}) as { locale?: string; zoneinfo?: string };
  ctx.state.pageHints = { ...ctx.state.pageHints, locale, zoneinfo };
  const i18n = pagesOf(ctx).translator(ctx);
  const requested = String(interaction.params.scope ?? 'openid')
    .split(' ')
    .filter(Boolean);
  const details = requestedDetails(interaction.params);
  const payment = isPayment(details);
  const { missingResourceScopes = {} } = interaction.prompt.details as {
    missingResourceScopes?: Record<string, string[]>;
  };
  const apis = await apisAtStake(db, missingResourceScopes);
  // Next to "Authorise payment" nothing is shown that cannot be unticked (openid is granted with it regardless).
  const scopes = scopeChoices(requested, i18n, apis).filter((scope) => !(payment && scope.required));
  sendPage(ctx, 'interaction/consent', {
    uid: interaction.uid,
    csrf: state.csrf,
    signedInAs: account?.username,
    switchOffered: switchOffered(interaction.params),
    details: details.map((detail) => describe(detail, i18n)),
    payment,
    scopes,
    client: {
      name: client?.clientName ?? client?.clientId,
      uri: client?.clientUri,
      policyUri: client?.policyUri,
      tosUri: client?.tosUri,
    },
  });
}

/** POST consent: the scopes the person left ticked are granted, the others rejected; recorded in ledger and audit. */
export async function submitConsent(ctx: Context, { host, consents, audit }: InteractionDependencies): Promise<void> {
  const { interaction } = loaded(ctx);
  // One decision per consent page: a double click or a race with "Not you?" saves no second grant.
  if (!(await claimDecision(host, interaction))) return seeOther(ctx, interactionPath(interaction));
  const chosen = formValues(ctx, 'scope', 1024);
  const authorizationDetails = requestedDetails(interaction.params);
  const consent = await saveGrant(host.provider, interaction, new Set(chosen), authorizationDetails);
  const accountId = interaction.session!.accountId;
  await consents.recordDecision(accountId, consent.grantId!, interaction.grantId ? 'changed' : 'granted');
  // The record of what was authorised with which authentication (RTS Art 5(1): the payer saw amount and payee).
  const authorised: Record<string, string | string[]> = authorizationDetails.length
    ? {
        authorised: authorizationDetails.map((detail) => describe(detail, pagesOf(ctx).recordTranslator).summary),
        authorization_details: JSON.stringify(authorizationDetails),
        sca_amr: interaction.lastSubmission?.login?.amr ?? [],
      }
    : {};
  await audit.record({
    type: 'consent.granted',
    actor: `account:${accountId}`,
    accountId,
    clientId: String(interaction.params.client_id),
    grantId: consent.grantId,
    details: { requested: String(interaction.params.scope ?? ''), allowed: chosen, ...authorised },
  });
  const returnTo = await host.provider.interactionResult(
    ctx.req,
    ctx.res,
    { consent },
    { mergeWithLastSubmission: true },
  );
  seeOther(ctx, returnTo);
}

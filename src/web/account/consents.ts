import type Router from '@koa/router';
import { ConsentNotFound, type Consents } from '../../consents/consents.ts';
import { describe } from '../../consents/details-wording.ts';
import { isPayment, type AuthorizationDetail } from '../../oidc/fapi/authorization-details.ts';
import { scopeChoices } from '../interaction/scopes.ts';
import { person, type AccountArea } from './area.ts';

const GONE = 'That consent no longer exists.';

/** The person's consents, each withdrawable (GDPR Art 7(3)): the client's access ends at once. */
export function consentRoutes(router: Router, area: AccountArea): void {
  const { consents } = area.deps;

  router.get('/consents', area.signedIn, async (ctx) => {
    const list = await consents.list(person(ctx).account.id);
    area.page(ctx, 'account/consents', { consents: list.map(describeConsent) });
  });

  router.get('/consents/:grantId/revoke', area.signedIn, async (ctx) => {
    try {
      const consent = await consents.get(person(ctx).account.id, ctx.params.grantId!);
      area.page(ctx, 'account/revoke', { consent: describeConsent(consent) });
    } catch (err) {
      if (err instanceof ConsentNotFound) return area.see(ctx, '/account/consents', GONE);
      throw err;
    }
  });

  router.post('/consents/:grantId/revoke', ...area.form, async (ctx) => {
    const accountId = person(ctx).account.id;
    try {
      const by = { channel: 'account_area', accountId } as const;
      const { consent, jwtAccessUntil } = await consents.revoke(accountId, ctx.params.grantId!, by);
      const until = jwtAccessUntil?.toISOString().replace('T', ' ').slice(0, 19);
      const tail = until
        ? ` Access tokens it already holds for APIs cannot be recalled and stop working at ${until} UTC at the latest.`
        : ' Its access ended now.';
      area.see(ctx, '/account/consents', `You withdrew ${consent.clientName}'s access.${tail}`);
    } catch (err) {
      if (err instanceof ConsentNotFound) return area.see(ctx, '/account/consents', GONE);
      throw err;
    }
  });
}

function describeConsent(consent: Awaited<ReturnType<Consents['get']>>) {
  const apiScopes = Object.entries(consent.resources).flatMap(([resource, scopes]) =>
    scopes.map((scope) => ({ resource, scope })),
  );
  const paid = consent.lastUsedAt ? 'payment authorised and used' : 'payment authorised, not yet used';
  return {
    ...consent,
    scopeTitles: scopeChoices(consent.scopes).map((choice) => choice.title),
    apiScopes: apiScopes.map(({ resource, scope }) => `${scopeChoices([scope])[0]!.title} at ${resource}`),
    details: (consent.authorizationDetails as unknown as AuthorizationDetail[]).map(describe),
    // A payment is authorised for one use: once a token was issued under it, it has been used.
    status: isPayment(consent.authorizationDetails) ? paid : undefined,
  };
}

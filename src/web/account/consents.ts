import type Router from '@koa/router';
import type { Context } from 'koa';
import { ConsentNotFound, type ConsentView } from '../../consents/consents.ts';
import { describeStored } from '../../consents/details-wording.ts';
import type { ResourceServerTitle } from '../../clients/resource-servers.ts';
import type { Translator } from '../../i18n/translator.ts';
import { isPayment } from '../../oidc/fapi/authorization-details.ts';
import { grantedPermissions, titlesOf } from '../interaction/scopes.ts';
import { pagesOf } from '../render.ts';
import { person, type AccountArea } from './area.ts';

const GONE = { key: 'consents.gone' };

/** A one-off payment consent once used: it gives no further access, so it is history rather than an app with access. */
const usedPayment = (consent: ConsentView) =>
  isPayment(consent.authorizationDetails) && consent.lastUsedAt !== undefined && consent.lastUsedAt !== null;

/** The person's consents, each withdrawable (GDPR Art 7(3)): the client's access ends at once. */
export function consentRoutes(router: Router, area: AccountArea): void {
  const { consents, db } = area.deps;
  const shown = async (ctx: Context, list: ConsentView[]) => {
    const titles = await titlesOf(db, list);
    return list.map((consent) => describeConsent(consent, titles, pagesOf(ctx).translator(ctx)));
  };

  router.get('/consents', area.signedIn, async (ctx) => {
    const list = (await consents.list(person(ctx).account.id)).filter((consent) => !usedPayment(consent));
    area.page(ctx, 'account/consents', { consents: await shown(ctx, list) });
  });

  router.get('/consents/:grantId/revoke', area.signedIn, async (ctx) => {
    try {
      const consent = await consents.get(person(ctx).account.id, ctx.params.grantId!);
      area.page(ctx, 'account/revoke', { consent: (await shown(ctx, [consent]))[0] });
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
      const client = consent.clientName;
      area.see(
        ctx,
        '/account/consents',
        jwtAccessUntil
          ? { key: 'consents.withdrawnJwt', values: { client, until: jwtAccessUntil.toISOString() }, dates: ['until'] }
          : { key: 'consents.withdrawn', values: { client } },
      );
    } catch (err) {
      if (err instanceof ConsentNotFound) return area.see(ctx, '/account/consents', GONE);
      throw err;
    }
  });
}

function describeConsent(consent: ConsentView, titles: ReadonlyMap<string, ResourceServerTitle>, i18n: Translator) {
  const used = consent.lastUsedAt ? 'consents.paymentUsed' : 'consents.paymentPending';
  return {
    ...consent,
    permissions: grantedPermissions(consent, titles, i18n),
    claims: consent.claims.map((claim) => (i18n.has(`claim.${claim}`) ? i18n.t(`claim.${claim}`) : claim)),
    details: describeStored(consent.authorizationDetails, i18n),
    // A payment is authorised for one use: once a token was issued under it, it has been used.
    status: isPayment(consent.authorizationDetails) ? used : undefined,
  };
}

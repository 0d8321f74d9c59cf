import type Router from '@koa/router';
import type { Context } from 'koa';
import { ConsentNotFound, type ConsentView } from '../../consents/consents.ts';
import { describe } from '../../consents/details-wording.ts';
import type { Queryable } from '../../db/database.ts';
import type { Translator } from '../../i18n/translator.ts';
import { isPayment, type AuthorizationDetail } from '../../oidc/fapi/authorization-details.ts';
import { grantedPermissions } from '../interaction/scopes.ts';
import { pagesOf } from '../render.ts';
import { person, type AccountArea } from './area.ts';

const GONE = { key: 'consents.gone' };

/** A one-off payment consent once used: it gives no further access, so it is history rather than an app with access. */
const usedPayment = (consent: ConsentView) =>
  isPayment(consent.authorizationDetails) && consent.lastUsedAt !== undefined && consent.lastUsedAt !== null;

/** The person's consents, each withdrawable (GDPR Art 7(3)): the client's access ends at once. */
export function consentRoutes(router: Router, area: AccountArea): void {
  const { consents, db } = area.deps;
  const shown = (ctx: Context, consent: ConsentView) => describeConsent(db, consent, pagesOf(ctx).translator(ctx));

  router.get('/consents', area.signedIn, async (ctx) => {
    const list = (await consents.list(person(ctx).account.id)).filter((consent) => !usedPayment(consent));
    area.page(ctx, 'account/consents', { consents: await Promise.all(list.map((consent) => shown(ctx, consent))) });
  });

  router.get('/consents/:grantId/revoke', area.signedIn, async (ctx) => {
    try {
      const consent = await consents.get(person(ctx).account.id, ctx.params.grantId!);
      area.page(ctx, 'account/revoke', { consent: await shown(ctx, consent) });
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

async function describeConsent(db: Queryable, consent: ConsentView, i18n: Translator) {
  const used = consent.lastUsedAt ? 'consents.paymentUsed' : 'consents.paymentPending';
  return {
    ...consent,
    permissions: await grantedPermissions(db, consent, i18n),
    claims: consent.claims.map((claim) => (i18n.has(`claim.${claim}`) ? i18n.t(`claim.${claim}`) : claim)),
    details: (consent.authorizationDetails as unknown as AuthorizationDetail[]).map((detail) => describe(detail, i18n)),
    // A payment is authorised for one use: once a token was issued under it, it has been used.
    status: isPayment(consent.authorizationDetails) ? used : undefined,
  };
}

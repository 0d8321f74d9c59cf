import type Router from '@koa/router';
import { describeStored } from '../../consents/details-wording.ts';
import { grantedPermissions, titlesOf } from '../interaction/scopes.ts';
import { pagesOf } from '../render.ts';
import { person, type AccountArea } from './area.ts';

/** The consent history: every consent given, changed and withdrawn, and through which channel. */
export function historyRoutes(router: Router, area: AccountArea): void {
  router.get('/history', area.signedIn, async (ctx) => {
    const entries = await area.deps.consents.history(person(ctx).account.id);
    const i18n = pagesOf(ctx).translator(ctx);
    const titles = await titlesOf(area.deps.db, entries);
    area.page(ctx, 'account/history', {
      entries: entries.map((entry) => ({
        ...entry,
        permissions: grantedPermissions(entry, titles, i18n),
        // A used payment is no longer among the apps with access: here it still says what was paid, and to whom.
        details: describeStored(entry.authorizationDetails, i18n),
      })),
    });
  });
}

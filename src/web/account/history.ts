import type Router from '@koa/router';
import { scopeChoices } from '../interaction/scopes.ts';
import { pagesOf } from '../render.ts';
import { person, type AccountArea } from './area.ts';

/** The consent history: every consent given, changed and withdrawn, and through which channel. */
export function historyRoutes(router: Router, area: AccountArea): void {
  router.get('/history', area.signedIn, async (ctx) => {
    const entries = await area.deps.consents.history(person(ctx).account.id);
    const i18n = pagesOf(ctx).translator(ctx);
    area.page(ctx, 'account/history', {
      entries: entries.map((entry) => ({
        ...entry,
        scopeTitles: scopeChoices(entry.scopes, i18n).map((s) => s.title),
      })),
    });
  });
}

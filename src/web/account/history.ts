import type Router from '@koa/router';
import { scopeChoices } from '../interaction/scopes.ts';
import { person, type AccountArea } from './area.ts';

const CHANNELS: Record<string, string> = {
  consent_screen: 'consent screen',
  account_area: 'your account',
  operator: 'the operator',
  client: 'the app itself',
  account_deletion: 'account deletion',
};

/** The consent history: every consent given, changed and withdrawn, and through which channel. */
export function historyRoutes(router: Router, area: AccountArea): void {
  router.get('/history', area.signedIn, async (ctx) => {
    const entries = await area.deps.consents.history(person(ctx).account.id);
    area.page(ctx, 'account/history', {
      entries: entries.map((entry) => ({
        ...entry,
        channelLabel: CHANNELS[entry.channel] ?? entry.channel,
        scopeTitles: scopeChoices(entry.scopes).map((s) => s.title),
      })),
    });
  });
}

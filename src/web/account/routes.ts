import Router from '@koa/router';
import { accountArea, person, type AccountDependencies } from './area.ts';
import { consentRoutes } from './consents.ts';
import { dataRoutes, deletedRoute } from './data.ts';
import { historyRoutes } from './history.ts';
import { loginRoutes } from './login.ts';
import { securityRoutes } from './security.ts';

export type { AccountDependencies } from './area.ts';

/**
 * The account area (GDPR Art 7(3), 15, 17, 20): people see and withdraw their consents, read their consent history
 * and security activity, manage their second factor, export their data and delete their account. Every page needs a
 * recent strong customer authentication; every form carries a CSRF token bound to the session and answers 303.
 */
export function accountRoutes(deps: AccountDependencies): Router {
  const router = new Router({ prefix: '/account' });
  const area = accountArea(deps);
  loginRoutes(router, area);
  deletedRoute(router);

  router.get('/', area.signedIn, async (ctx) => {
    const me = person(ctx);
    const consentCount = (await deps.consents.list(me.account.id)).length;
    area.page(ctx, 'account/home', { account: me.account, consentCount });
  });
  consentRoutes(router, area);
  historyRoutes(router, area);
  securityRoutes(router, area);
  dataRoutes(router, area);
  return router;
}

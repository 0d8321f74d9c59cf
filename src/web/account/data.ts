import type Router from '@koa/router';
import { eraseAccount } from '../../people/erasure.ts';
import { exportPersonalData } from '../../people/export.ts';
import { formField } from '../forms.ts';
import { sendPage } from '../page.ts';
import { person, type AccountArea } from './area.ts';
import { FRESH_SCA_SECONDS } from './session.ts';

/** The page after deletion, reachable without a session (there is none any more). */
export function deletedRoute(router: Router): void {
  router.get('/deleted', (ctx) => sendPage(ctx, 'account/deleted', {}));
}

/** The person's own data: a download of all of it (GDPR Art 15, 20) and deleting the account (Art 17). */
export function dataRoutes(router: Router, area: AccountArea): void {
  const { db, accounts, consents, audit, secrets, config } = area.deps;

  router.get('/export', area.signedIn, async (ctx) => {
    const me = person(ctx);
    const data = await exportPersonalData(accounts, consents, me.account);
    await audit.record({ type: 'account.exported', actor: `account:${me.account.id}`, accountId: me.account.id });
    ctx.type = 'application/json';
    ctx.attachment('kluis-account-export.json');
    ctx.body = JSON.stringify(data, null, 2);
  });

  router.get('/delete', area.signedIn, (ctx) => {
    const me = person(ctx);
    area.page(ctx, 'account/delete', { fresh: Date.now() / 1000 - me.authenticatedAt <= FRESH_SCA_SECONDS });
  });

  router.post('/delete', ...area.form, async (ctx) => {
    const me = person(ctx);
    if (Date.now() / 1000 - me.authenticatedAt > FRESH_SCA_SECONDS) return area.see(ctx, '/account/delete');
    if (formField(ctx, 'confirm', 128) !== me.account.username) {
      return area.see(ctx, '/account/delete', { key: 'delete.mismatch' });
    }
    const quarantineSeconds = config.usernameQuarantine;
    const erasure = { db, accounts, consents, audit, salt: secrets.pairwiseSalt, quarantineSeconds };
    await eraseAccount(erasure, me.account.id, 'person');
    area.see(ctx, '/account/deleted');
  });
}

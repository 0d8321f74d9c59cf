import type Router from '@koa/router';
import type { Context } from 'koa';
import { formField } from '../forms.ts';
import { sendPage } from '../page.ts';
import { pagesOf } from '../render.ts';
import { origin } from '../request-origin.ts';
import { authenticatorEntry } from '../totp-entry.ts';
import { person, type AccountArea } from './area.ts';
import type { Person } from './session.ts';

const REENROL_PURPOSE = 'account area totp re-enrolment';
const REENROL_TTL_MS = 10 * 60 * 1000;
const WRONG_CODE = { key: 'security.wrongCode' };
const EXPIRED = { key: 'security.expired' };

/** Security activity and the second factor: new recovery codes, a new authenticator app. */
export function securityRoutes(router: Router, area: AccountArea): void {
  const { accounts, signIn, secrets } = area.deps;

  async function reenrolPage(ctx: Context, me: Person, secret: string, ticket: string, error?: string) {
    const totp = await authenticatorEntry(secret, pagesOf(ctx).brand.name, me.account.username);
    area.page(ctx, 'account/totp', { ...totp, ticket, error }, error ? 400 : 200);
  }

  router.get('/security', area.signedIn, async (ctx) => {
    const me = person(ctx);
    const events = await accounts.securityEventsFor(me.account.id);
    area.page(ctx, 'account/security', {
      events,
      recoveryCodesLeft: await accounts.unusedRecoveryCodes(me.account.id),
    });
  });

  // New recovery codes, after a fresh second factor; shown once, in the answer to the POST, and never stored in clear.
  router.post('/security/recovery-codes', ...area.form, async (ctx) => {
    const me = person(ctx);
    if (!(await signIn.confirmSecondFactor(me.account.id, formField(ctx, 'code', 32), origin(ctx)))) {
      return area.see(ctx, '/account/security', WRONG_CODE);
    }
    const codes = await signIn.regenerateRecoveryCodes(me.account.id, origin(ctx));
    sendPage(ctx, 'shared/recovery-codes', { codes, continueTo: '/account/security' });
  });

  // Re-enrolment: a fresh second factor first, then a new secret proven with a code from the new authenticator.
  router.post('/security/totp', ...area.form, async (ctx) => {
    const me = person(ctx);
    if (!(await signIn.confirmSecondFactor(me.account.id, formField(ctx, 'code', 32), origin(ctx)))) {
      return area.see(ctx, '/account/security', WRONG_CODE);
    }
    const { secret, sealed } = signIn.newEnrolment();
    const ticket = { accountId: me.account.id, sealed, expires: Date.now() + REENROL_TTL_MS };
    await reenrolPage(ctx, me, secret, secrets.box.encrypt(JSON.stringify(ticket), REENROL_PURPOSE));
  });

  router.post('/security/totp/confirm', ...area.form, async (ctx) => {
    const me = person(ctx);
    const sealedTicket = formField(ctx, 'ticket', 4096);
    let ticket: { accountId: string; sealed: string; expires: number };
    try {
      ticket = JSON.parse(secrets.box.decrypt(sealedTicket, REENROL_PURPOSE)) as typeof ticket;
    } catch {
      return area.see(ctx, '/account/security', EXPIRED);
    }
    if (ticket.accountId !== me.account.id || ticket.expires < Date.now()) {
      return area.see(ctx, '/account/security', EXPIRED);
    }
    const codes = await signIn.reenrol(me.account.id, ticket.sealed, formField(ctx, 'code', 32), origin(ctx));
    if (!codes) {
      const error = 'enrol.mismatch';
      return reenrolPage(ctx, me, signIn.openEnrolment(ticket.sealed), sealedTicket, error);
    }
    sendPage(ctx, 'shared/recovery-codes', { codes, continueTo: '/account/security' });
  });
}

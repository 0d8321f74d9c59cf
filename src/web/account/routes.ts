import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import QRCode from 'qrcode';
import type { AuditLog } from '../../audit/writer.ts';
import type { SignIn } from '../../auth/sign-in.ts';
import { totpUri } from '../../auth/totp.ts';
import type { Config } from '../../config/env.ts';
import { ConsentNotFound, type Consents } from '../../consents/consents.ts';
import { ledgerFor } from '../../db/consent-ledger.ts';
import type { Database } from '../../db/database.ts';
import { unusedRecoveryCodes } from '../../db/second-factors.ts';
import { securityEventsFor } from '../../db/security-events.ts';
import { origin } from '../request-origin.ts';
import { render } from '../render.ts';
import { isPayment, type AuthorizationDetail } from '../../oidc/fapi/authorization-details.ts';
import { describe } from '../../consents/details-wording.ts';
import { scopeChoices } from '../interaction/scopes.ts';
import type { ServerSecrets } from '../../secrets/server-secrets.ts';
import { eraseAccount } from '../../people/erasure.ts';
import { exportPersonalData } from '../../people/export.ts';
import { FRESH_SCA_SECONDS, safeReturn, type AccountSession, type Person } from './session.ts';

export interface AccountDependencies {
  config: Pick<Config, 'issuer' | 'production' | 'sca' | 'usernameQuarantine'>;
  db: Database;
  secrets: ServerSecrets;
  session: AccountSession;
  consents: Consents;
  signIn: SignIn;
  audit: AuditLog;
}

const FLASH_COOKIE = 'kluis.account-flash';
const FLASH_PURPOSE = 'account area notice';
const REENROL_PURPOSE = 'account area totp re-enrolment';
const REENROL_TTL_MS = 10 * 60 * 1000;

const LABELS: Record<string, string> = {
  'login.succeeded': 'Signed in',
  'login.failed': 'Failed sign-in attempt',
  'account.locked': 'Account locked after failed attempts',
  'account.unlocked': 'Account unlocked by the operator',
  'mfa.enrolled': 'Authenticator app set up',
  'mfa.reset': 'Authenticator app reset by the operator',
  'recovery_codes.regenerated': 'New recovery codes created',
  'recovery_code.used': 'Recovery code used',
  'activation_code.used': 'Activation code used to set up an authenticator app',
};
const CHANNELS: Record<string, string> = {
  consent_screen: 'consent screen',
  account_area: 'your account',
  operator: 'the operator',
  client: 'the app itself',
  account_deletion: 'account deletion',
};

const person = (ctx: Context) => ctx.state.person as Person;

/**
 * The account area (GDPR Art 7(3), 15, 17, 20): people see and withdraw their consents, read their consent history
 * and security activity, manage their second factor, export their data and delete their account. Every page needs a
 * recent strong customer authentication; every form carries a CSRF token bound to the session and answers 303.
 */
export function accountRoutes(deps: AccountDependencies): Router {
  const { db, session, consents, signIn, audit, secrets } = deps;
  const router = new Router({ prefix: '/account' });
  const forms = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });
  const cookie = (maxAge: number) => ({ httpOnly: true, sameSite: 'lax' as const, secure: deps.config.production, path: '/account', maxAge, overwrite: true });

  const page = (ctx: Context, view: string, context: Record<string, unknown>, status = 200) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = render(view, { person: person(ctx), csrf: person(ctx)?.csrf, flash: takeFlash(ctx), ...context });
  };
  const see = (ctx: Context, location: string, flash?: string) => {
    if (flash) ctx.cookies.set(FLASH_COOKIE, secrets.box.encrypt(flash, FLASH_PURPOSE), cookie(60_000));
    ctx.status = 303;
    ctx.redirect(location);
  };
  const takeFlash = (ctx: Context): string | undefined => {
    const sealed = ctx.cookies.get(FLASH_COOKIE);
    if (!sealed) return undefined;
    ctx.cookies.set(FLASH_COOKIE, null, cookie(0));
    try {
      return secrets.box.decrypt(sealed, FLASH_PURPOSE);
    } catch {
      return undefined;
    }
  };
  const csrf: Middleware = async (ctx, next) => {
    const body = ctx.request.body as Record<string, unknown> | undefined;
    if (!session.csrfMatches(person(ctx), body?.csrf)) {
      ctx.status = 403;
      ctx.type = 'html';
      ctx.body = render('error', { heading: 'This form has expired', description: 'Please go back, reload the page and try again.', error: 'forbidden', requestId: ctx.state.requestId });
      return;
    }
    await next();
  };
  const field = (ctx: Context, name: string, max = 64) => {
    const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
    return typeof value === 'string' ? value.slice(0, max) : '';
  };

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  // Sign-in for the account area goes through the normal authorization endpoint with Kluis's own client.
  router.get('/login', (ctx) => {
    ctx.status = 303;
    ctx.redirect(session.startLogin(ctx, { returnTo: safeReturn(ctx.query.return), fresh: ctx.query.fresh === '1' }));
  });
  router.get('/callback', async (ctx) => {
    if (typeof ctx.query.error === 'string') {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = render('error', { heading: 'Not signed in', description: 'Sign-in was cancelled or did not complete.', error: ctx.query.error, requestId: ctx.state.requestId });
      return;
    }
    const next = await session.finishLogin(ctx);
    if (!next) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = render('error', { heading: 'Sign-in could not continue', description: 'This sign-in was not started here or has expired. Please open your account again.', error: 'invalid_request', requestId: ctx.state.requestId });
      return;
    }
    see(ctx, next);
  });
  router.get('/deleted', (ctx) => {
    ctx.type = 'html';
    ctx.body = render('account-deleted', {});
  });

  router.use(session.required);

  router.get('/', async (ctx) => {
    const me = person(ctx);
    page(ctx, 'account', { account: me.account, consentCount: (await consents.list(me.account.id)).length });
  });

  router.get('/consents', async (ctx) => {
    const list = await consents.list(person(ctx).account.id);
    page(ctx, 'account-consents', { consents: list.map(describeConsent) });
  });

  router.get('/consents/:grantId/revoke', async (ctx) => {
    try {
      page(ctx, 'account-revoke', { consent: describeConsent(await consents.get(person(ctx).account.id, ctx.params.grantId!)) });
    } catch (err) {
      if (err instanceof ConsentNotFound) return see(ctx, '/account/consents', 'That consent no longer exists.');
      throw err;
    }
  });

  router.post('/consents/:grantId/revoke', forms, csrf, async (ctx) => {
    const accountId = person(ctx).account.id;
    try {
      const { consent, jwtAccessUntil } = await consents.revoke(accountId, ctx.params.grantId!, { channel: 'account_area', accountId });
      const tail = jwtAccessUntil
        ? ` Access tokens it already holds for APIs cannot be recalled and stop working at ${jwtAccessUntil.toISOString().replace('T', ' ').slice(0, 19)} UTC at the latest.`
        : ' Its access ended now.';
      see(ctx, '/account/consents', `You withdrew ${consent.clientName}'s access.${tail}`);
    } catch (err) {
      if (err instanceof ConsentNotFound) return see(ctx, '/account/consents', 'That consent no longer exists.');
      throw err;
    }
  });

  router.get('/history', async (ctx) => {
    const entries = await ledgerFor(db, person(ctx).account.id);
    page(ctx, 'account-history', {
      entries: entries.map((entry) => ({ ...entry, channelLabel: CHANNELS[entry.channel] ?? entry.channel, scopeTitles: scopeChoices(entry.scopes).map((s) => s.title) })),
    });
  });

  router.get('/export', async (ctx) => {
    const me = person(ctx);
    const data = await exportPersonalData(db, consents, me.account);
    await audit.record({ type: 'account.exported', actor: `account:${me.account.id}`, accountId: me.account.id });
    ctx.type = 'application/json';
    ctx.attachment('kluis-account-export.json');
    ctx.body = JSON.stringify(data, null, 2);
  });

  router.get('/security', async (ctx) => {
    const me = person(ctx);
    const events = await securityEventsFor(db, me.account.id);
    page(ctx, 'account-security', {
      events: events.map((event) => ({ ...event, label: LABELS[event.type] ?? event.type })),
      recoveryCodesLeft: await unusedRecoveryCodes(db, me.account.id),
    });
  });

  // New recovery codes, after a fresh second factor; shown once, in the answer to the POST, and never stored in clear.
  router.post('/security/recovery-codes', forms, csrf, async (ctx) => {
    const me = person(ctx);
    if (!(await signIn.confirmSecondFactor(me.account.id, field(ctx, 'code', 32), origin(ctx)))) {
      return see(ctx, '/account/security', 'That code was not correct, so nothing changed.');
    }
    const codes = await signIn.regenerateRecoveryCodes(me.account.id, origin(ctx));
    ctx.type = 'html';
    ctx.body = render('recovery-codes', { codes, continueTo: '/account/security' });
  });

  // Re-enrolment: a fresh second factor first, then a new secret proven with a code from the new authenticator.
  router.post('/security/totp', forms, csrf, async (ctx) => {
    const me = person(ctx);
    if (!(await signIn.confirmSecondFactor(me.account.id, field(ctx, 'code', 32), origin(ctx)))) {
      return see(ctx, '/account/security', 'That code was not correct, so nothing changed.');
    }
    const { secret, sealed } = signIn.newEnrolment();
    const ticket = secrets.box.encrypt(JSON.stringify({ accountId: me.account.id, sealed, expires: Date.now() + REENROL_TTL_MS }), REENROL_PURPOSE);
    await reenrolPage(ctx, me, secret, ticket);
  });

  router.post('/security/totp/confirm', forms, csrf, async (ctx) => {
    const me = person(ctx);
    let ticket: { accountId: string; sealed: string; expires: number };
    try {
      ticket = JSON.parse(secrets.box.decrypt(field(ctx, 'ticket', 4096), REENROL_PURPOSE)) as typeof ticket;
    } catch {
      return see(ctx, '/account/security', 'That set-up has expired; please start again.');
    }
    if (ticket.accountId !== me.account.id || ticket.expires < Date.now()) return see(ctx, '/account/security', 'That set-up has expired; please start again.');
    const codes = await signIn.reenrol(me.account.id, ticket.sealed, field(ctx, 'code', 32), origin(ctx));
    if (!codes) return reenrolPage(ctx, me, signIn.openEnrolment(ticket.sealed), field(ctx, 'ticket', 4096), 'That code did not match. Check the time on your device and try the newest code.');
    ctx.type = 'html';
    ctx.body = render('recovery-codes', { codes, continueTo: '/account/security' });
  });

  async function reenrolPage(ctx: Context, me: Person, secret: string, ticket: string, error?: string) {
    const qr = await QRCode.toDataURL(totpUri(secret, new URL(deps.config.issuer).host, me.account.username), { margin: 1, width: 220 });
    page(ctx, 'account-totp', { qr, secret, ticket, error }, error ? 400 : 200);
  }

  router.get('/delete', (ctx) => {
    const me = person(ctx);
    page(ctx, 'account-delete', { fresh: Date.now() / 1000 - me.authenticatedAt <= FRESH_SCA_SECONDS });
  });

  router.post('/delete', forms, csrf, async (ctx) => {
    const me = person(ctx);
    if (Date.now() / 1000 - me.authenticatedAt > FRESH_SCA_SECONDS) return see(ctx, '/account/delete');
    if (field(ctx, 'confirm', 128) !== me.account.username) {
      return see(ctx, '/account/delete', 'The username you typed did not match, so your account was not deleted.');
    }
    await eraseAccount({ db, consents, audit, salt: secrets.pairwiseSalt, quarantineSeconds: deps.config.usernameQuarantine }, me.account.id, 'person');
    see(ctx, '/account/deleted');
  });

  return router;
}

function describeConsent(consent: Awaited<ReturnType<Consents['get']>>) {
  const apiScopes = Object.entries(consent.resources).flatMap(([resource, scopes]) => scopes.map((scope) => ({ resource, scope })));
  return {
    ...consent,
    scopeTitles: scopeChoices(consent.scopes).map((choice) => choice.title),
    apiScopes: apiScopes.map(({ resource, scope }) => `${scopeChoices([scope])[0]!.title} at ${resource}`),
    details: (consent.authorizationDetails as unknown as AuthorizationDetail[]).map(describe),
    // A payment is authorised for one use: once a token was issued under it, it has been used.
    status: isPayment(consent.authorizationDetails) ? (consent.lastUsedAt ? 'payment authorised and used' : 'payment authorised, not yet used') : undefined,
  };
}

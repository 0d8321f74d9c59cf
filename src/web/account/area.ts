import type { Context, Middleware } from 'koa';
import type { AuditLog } from '../../audit/writer.ts';
import type { SignIn } from '../../auth/sign-in.ts';
import type { Config } from '../../config/env.ts';
import type { Consents } from '../../consents/consents.ts';
import type { AccountStore } from '../../db/account-store.ts';
import type { Database } from '../../db/database.ts';
import type { ServerSecrets } from '../../secrets/server-secrets.ts';
import { requireCsrf } from '../csrf.ts';
import { Flash, type FlashMessage } from '../flash.ts';
import { formBody } from '../forms.ts';
import { seeOther, sendPage } from '../page.ts';
import { pagesOf } from '../render.ts';
import type { AccountSession, Person } from './session.ts';

export interface AccountDependencies {
  config: Pick<Config, 'issuer' | 'production' | 'sca' | 'usernameQuarantine'>;
  db: Database;
  accounts: AccountStore;
  secrets: ServerSecrets;
  session: AccountSession;
  consents: Consents;
  signIn: SignIn;
  audit: AuditLog;
}

/** What every page of the account area shares: the signed-in person, the flash notice, the CSRF-checked forms. */
export interface AccountArea {
  deps: AccountDependencies;
  /** A page of the area, with the person, their CSRF token and the flash notice (shown once). */
  page(ctx: Context, view: string, context: Record<string, unknown>, status?: number): void;
  /** See-other to `location`, with a notice for the page there. */
  see(ctx: Context, location: string, flash?: FlashMessage): void;
  /**
   * In front of every page that needs the person signed in. Given per route, not with `router.use`: @koa/router
   * matches a route's path case-insensitively but a `use` below a prefix case-sensitively, so `/ACCOUNT/CONSENTS`
   * would reach its route without passing a `use`.
   */
  signedIn: Middleware;
  /** A form post of a signed-in person: parsed, and refused without the CSRF token bound to their session. */
  form: Middleware[];
}

export const person = (ctx: Context) => ctx.state.person as Person;

export function accountArea(deps: AccountDependencies): AccountArea {
  const flash = new Flash(deps.secrets.box, {
    name: 'kluis.account-flash',
    path: '/account',
    purpose: 'account area notice',
    secure: deps.config.production,
  });
  const csrf = requireCsrf((ctx) => person(ctx).csrf, {
    heading: 'error.formExpired.heading',
    message: 'error.formExpired.message',
  });
  return {
    deps,
    page(ctx, view, context, status = 200) {
      sendPage(
        ctx,
        view,
        { person: person(ctx), csrf: person(ctx)?.csrf, flash: shown(ctx, flash.take(ctx)), ...context },
        status,
      );
    },
    see(ctx, location, notice) {
      if (notice) flash.set(ctx, notice);
      seeOther(ctx, location);
    },
    signedIn: deps.session.required,
    form: [deps.session.required, formBody, csrf],
  };
}

/** A notice's times in the reader's zone and language. */
function shown(ctx: Context, message: FlashMessage | undefined): FlashMessage | undefined {
  if (!message?.dates?.length) return message;
  const i18n = pagesOf(ctx).translator(ctx);
  const values = { ...message.values };
  // Shown to the minute and rounded up: "at the latest" must stay true.
  for (const name of message.dates) {
    if (values[name]) values[name] = i18n.dateTime(new Date(Math.ceil(Date.parse(values[name]) / 60_000) * 60_000));
  }
  return { ...message, values };
}

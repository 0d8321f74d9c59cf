import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { Config } from '../../config/env.ts';
import type { AccountRecord, AccountRecords } from '../../db/account-store.ts';
import { ACCOUNT_CLIENT_ID, accountCallbackUri } from '../../oidc/clients/account-client.ts';
import { SCA_ACR } from '../../oidc/provider/sca-policy.ts';
import type { ProviderHost } from '../../oidc/provider/host.ts';
import type { ServerSecrets } from '../../secrets/server-secrets.ts';

/** The signed-in person, as the account area's pages see them. */
export interface Person {
  account: AccountRecord;
  /** When the person last passed strong customer authentication (epoch seconds). */
  authenticatedAt: number;
  /** Binds every form of the account area to this SSO session. */
  csrf: string;
}

/** Deleting the account needs an SCA this recent (seconds), not just a live session. */
export const FRESH_SCA_SECONDS = 120;

const LOGIN_COOKIE = 'kluis.account-login';
const LOGIN_PURPOSE = 'account area login';
const LOGIN_TTL_SECONDS = 600;

interface PendingLogin {
  state: string;
  verifier: string;
  returnTo: string;
  expires: number;
}

/** Only paths inside the account area are followed after sign-in (no open redirect). */
export function safeReturn(value: unknown): string {
  return typeof value === 'string' && /^\/account(\/[\w\-/]*)?$/.test(value) ? value : '/account';
}

/**
 * The account area rides on the person's SSO session with Kluis, entered through Kluis's own first-party client:
 * a session without a strong customer authentication in the last SCA_MAX_AGE seconds is sent through the normal
 * sign-in (PSD2 RTS Art 4(3)(d)), which asks again for both factors.
 */
export class AccountSession {
  readonly #host: ProviderHost;
  readonly #accounts: Pick<AccountRecords, 'findById'>;
  readonly #secrets: ServerSecrets;
  readonly #config: Pick<Config, 'issuer' | 'production' | 'sca'>;

  constructor(
    host: ProviderHost,
    accounts: Pick<AccountRecords, 'findById'>,
    secrets: ServerSecrets,
    config: Pick<Config, 'issuer' | 'production' | 'sca'>,
  ) {
    this.#host = host;
    this.#accounts = accounts;
    this.#secrets = secrets;
    this.#config = config;
  }

  /** Lets the request through with `ctx.state.person` set, or sends the browser to sign in first. */
  readonly required: Middleware = async (ctx, next) => {
    const person = await this.current(ctx);
    if (!person) {
      ctx.status = 303;
      ctx.redirect(`/account/login?return=${encodeURIComponent(safeReturn(ctx.path))}`);
      return;
    }
    ctx.state.person = person;
    // The person's own language and time zone for the pages (OIDC Core 5.1 `locale`, `zoneinfo`).
    const { locale, zoneinfo } = person.account.claims as { locale?: string; zoneinfo?: string };
    ctx.state.pageHints = { locale, zoneinfo };
    await next();
  };

  async current(ctx: Context): Promise<Person | undefined> {
    const session = await this.#host.provider.Session.get(ctx as never);
    const loginTs = session.loginTs;
    if (!session.accountId || session.acr !== SCA_ACR || !loginTs) return undefined;
    if (Date.now() / 1000 - loginTs > this.#config.sca.maxAge) return undefined;
    const account = await this.#accounts.findById(session.accountId);
    if (account?.status !== 'active') return undefined;
    return { account, authenticatedAt: loginTs, csrf: this.#csrfFor(session.jti) };
  }

  /** Starts sign-in for the account area: an authorization request of Kluis's own client, with PKCE and state. */
  startLogin(ctx: Context, options: { returnTo: string; fresh: boolean }): string {
    const pending: PendingLogin = {
      state: randomBytes(24).toString('base64url'),
      verifier: randomBytes(32).toString('base64url'),
      returnTo: safeReturn(options.returnTo),
      expires: Date.now() + LOGIN_TTL_SECONDS * 1000,
    };
    ctx.cookies.set(
      LOGIN_COOKIE,
      this.#secrets.box.encrypt(JSON.stringify(pending), LOGIN_PURPOSE),
      this.#cookieOptions(LOGIN_TTL_SECONDS * 1000),
    );
    const url = new URL(`${this.#config.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: accountCallbackUri(this.#config.issuer),
      state: pending.state,
      code_challenge: createHash('sha256').update(pending.verifier).digest('base64url'),
      code_challenge_method: 'S256',
      // A session with less than 30 s of its SCA left is renewed now rather than bounced back a moment later.
      ...(options.fresh ? { prompt: 'login' } : { max_age: String(Math.max(0, this.#config.sca.maxAge - 30)) }),
    }).toString();
    return url.href;
  }

  /**
   * The end of the account area's sign-in: the code is redeemed here, in-process (checked against this browser's
   * state and PKCE verifier, and consumed so it cannot be used again). Returns where to go, or undefined.
   */
  async finishLogin(ctx: Context): Promise<string | undefined> {
    const sealed = ctx.cookies.get(LOGIN_COOKIE, { signed: false });
    ctx.cookies.set(LOGIN_COOKIE, null, this.#cookieOptions(0));
    if (!sealed) return undefined;
    let pending: PendingLogin;
    try {
      pending = JSON.parse(this.#secrets.box.decrypt(sealed, LOGIN_PURPOSE)) as PendingLogin;
    } catch {
      return undefined;
    }
    const state = ctx.query.state;
    const value = ctx.query.code;
    if (
      pending.expires < Date.now() ||
      typeof state !== 'string' ||
      state !== pending.state ||
      typeof value !== 'string'
    )
      return undefined;

    const code = await this.#host.provider.AuthorizationCode.find(value);
    const challenge = createHash('sha256').update(pending.verifier).digest('base64url');
    if (
      !code ||
      (code as unknown as { consumed?: number }).consumed ||
      code.clientId !== ACCOUNT_CLIENT_ID ||
      code.redirectUri !== accountCallbackUri(this.#config.issuer) ||
      code.codeChallenge !== challenge
    ) {
      return undefined;
    }
    try {
      await code.consume();
    } catch {
      return undefined;
    }
    const person = await this.current(ctx);
    if (!person || person.account.id !== code.accountId) return undefined;
    return pending.returnTo;
  }

  #csrfFor(sessionId: string): string {
    return createHmac('sha256', this.#secrets.cookieKeys[0]!).update(`account-area:${sessionId}`).digest('base64url');
  }

  #cookieOptions(maxAge: number) {
    return {
      httpOnly: true,
      sameSite: 'lax' as const,
      secure: this.#config.production,
      path: '/account',
      maxAge,
      overwrite: true,
      // Sealed by the secret box already. The account area is served by oidc-provider's Koa app, which has cookie
      // keys, and Koa would sign a cookie (a second `.sig` cookie) unless told not to.
      signed: false,
    };
  }
}

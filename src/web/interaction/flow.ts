import { decodeJwt } from 'jose';
import type { Context, Middleware } from 'koa';
import { errors, type InteractionResults } from 'oidc-provider';
import type { AuditLog } from '../../audit/writer.ts';
import type { SignIn } from '../../auth/sign-in.ts';
import type { Consents } from '../../consents/consents.ts';
import type { AccountRecords } from '../../db/account-store.ts';
import type { Database } from '../../db/database.ts';
import { DatabaseUnavailable, UnstorableInput } from '../../db/errors.ts';
import type { ProviderHost } from '../../oidc/provider/host.ts';
import { SCA_ACR } from '../../oidc/provider/sca-policy.ts';
import { StorageUnavailable } from '../../oidc/provider/errors.ts';
import { newCsrfToken, requireCsrf } from '../csrf.ts';
import { PageError } from '../error-page.ts';
import { readState, stageOf, writeState, type InteractionState } from './state.ts';

export interface InteractionDependencies {
  host: ProviderHost;
  db: Database;
  accounts: Pick<AccountRecords, 'findById'>;
  signIn: SignIn;
  audit: AuditLog;
  consents: Consents;
}

export type Interaction = Awaited<ReturnType<ProviderHost['provider']['interactionDetails']>>;

export interface LoadedInteraction {
  interaction: Interaction;
  state: InteractionState;
}

/**
 * A refusal on an interaction page: the sign-in cannot continue, for the reason given (in English for the log and
 * JSON; `message` is the catalogue key of the sentence a person reads).
 */
export function signInRefused(
  code: string,
  status: number,
  description: string,
  message: string,
  retryAfter?: number,
): PageError {
  const error = status === 403 ? 'forbidden' : status === 503 ? 'temporarily_unavailable' : 'invalid_request';
  const text = { heading: 'error.signIn.heading', message };
  return new PageError(code, { status, text, description, error, ...(retryAfter ? { retryAfter } : {}) });
}

/** Errors of a step as the person reads them; an unknown, expired or other-browser interaction is a 400. */
function refusalFor(err: unknown): unknown {
  if (err instanceof DatabaseUnavailable || err instanceof StorageUnavailable) {
    // Nothing was half-done (each step is one statement or transaction): the person can simply retry.
    const description = 'Sign-in is temporarily unavailable. Please try again in a moment.';
    return signInRefused('ERR_SIGN_IN_UNAVAILABLE', 503, description, 'error.signIn.unavailable', 5);
  }
  if (err instanceof UnstorableInput) {
    const description = 'The form contains characters that are not allowed. Please try again.';
    return signInRefused('ERR_SIGN_IN_UNSTORABLE', 400, description, 'error.signIn.unstorable');
  }
  if (err instanceof errors.SessionNotFound || err instanceof errors.InvalidRequest) {
    const description = 'This sign-in request is unknown or has expired. Please return to the app and start again.';
    return signInRefused('ERR_INTERACTION_UNKNOWN', 400, description, 'error.signIn.unknown');
  }
  return err;
}

/**
 * The one middleware in front of every interaction step: loads the interaction this browser is in (and its state,
 * made with a fresh CSRF token on the first visit) and turns what a step throws into the page the person reads.
 */
export function loadInteraction(host: ProviderHost): Middleware {
  return async (ctx, next) => {
    try {
      const interaction = await host.provider.interactionDetails(ctx.req, ctx.res);
      if (interaction.uid !== ctx.params.uid) throw new errors.SessionNotFound('interaction mismatch');
      let state = readState(interaction);
      if (!state) {
        state = { csrf: newCsrfToken() };
        await writeState(interaction, state);
      }
      ctx.state.interaction = { interaction, state } satisfies LoadedInteraction;
      // The app's preferred languages for the pages (OIDC Core 3.1.2.1).
      const uiLocales = interaction.params.ui_locales;
      ctx.state.pageHints = { uiLocales: typeof uiLocales === 'string' ? uiLocales : undefined };
      await next();
    } catch (err) {
      throw refusalFor(err);
    }
  };
}

export function loaded(ctx: Context): LoadedInteraction {
  return ctx.state.interaction as LoadedInteraction;
}

/** Every form of an interaction carries its CSRF token. */
export const interactionForm: Middleware = requireCsrf((ctx) => loaded(ctx).state.csrf, {
  heading: 'error.signIn.heading',
  message: 'error.signIn.formExpired',
});

const notThisStep = () =>
  signInRefused('ERR_INTERACTION_STEP', 400, 'This step is not part of this sign-in.', 'error.signIn.step');

/**
 * A step's form is part of one prompt only: the consent form of consenting, the sign-in forms of the login prompt
 * or of a sign-in after "Not you?" (state.ts); a form of no particular prompt (cancel) of any stage but decided.
 */
export function expectPrompt(prompt?: 'login' | 'consent'): Middleware {
  return async (ctx, next) => {
    const { interaction, state } = loaded(ctx);
    const stage = stageOf(interaction, state);
    if (stage === undefined || stage === 'decided') throw notThisStep();
    if (prompt && (stage === 'consenting' ? 'consent' : 'login') !== prompt) throw notThisStep();
    await next();
  };
}

/**
 * Reserves the one decision of a consenting stage (allow, "Not you?" or deny) for this request, in one atomic
 * statement shared by every process (oidc-provider's ReplayDetection rows), before it is judged. False: another
 * request of this interaction holds it (a double click, or a race between two decisions).
 */
export async function claimDecision(host: ProviderHost, interaction: Interaction): Promise<boolean> {
  return host.provider.ReplayDetection.unique('kluis:consent-decision', interaction.uid, interaction.exp);
}

/** The path of the interaction's own page, or of one of its steps. */
export function interactionPath(interaction: Interaction, step?: 'mfa' | 'enrol'): string {
  return step ? `/interaction/${interaction.uid}/${step}` : `/interaction/${interaction.uid}`;
}

/**
 * What a strong customer authentication that just passed gives oidc-provider. `ts` makes auth_time this moment:
 * without it oidc-provider takes the moment of the resume, which after a consent page is later (and SCA_MAX_AGE
 * counts from auth_time). An app that sent id_token_hint asked for that person (OIDC Core 3.1.2.1): when someone
 * else signed in, the request ends with login_required (oidc-provider checks the hint only against a session it
 * finds, not against a login just made).
 */
export async function signedIn(
  host: ProviderHost,
  interaction: Interaction,
  accountId: string,
  amr: string[],
): Promise<InteractionResults> {
  const hint = interaction.params.id_token_hint;
  if (
    typeof hint === 'string' &&
    hintedSubject(hint) !== (await host.subjectFor(String(interaction.params.client_id), accountId))
  ) {
    return {
      error: 'login_required',
      error_description: 'the person who signed in is not the one id_token_hint names',
    };
  }
  return { login: { accountId, acr: SCA_ACR, amr, remember: true, ts: Math.floor(Date.now() / 1000) } };
}

/** The `sub` of an id_token_hint, which oidc-provider verified when the request came in. */
function hintedSubject(hint: string): string | undefined {
  try {
    return decodeJwt(hint).sub;
  } catch {
    return undefined;
  }
}

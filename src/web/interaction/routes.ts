import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { errors } from 'oidc-provider';
import QRCode from 'qrcode';
import type { AuditLog } from '../../audit/writer.ts';
import type { Consents } from '../../consents/consents.ts';
import { totpUri } from '../../auth/totp.ts';
import type { SignIn } from '../../auth/sign-in.ts';
import { origin } from '../request-origin.ts';
import { findAccountById } from '../../db/accounts.ts';
import { DatabaseUnavailable, UnstorableInput } from '../../db/errors.ts';
import type { Database } from '../../db/database.ts';
import { render } from '../render.ts';
import { StorageUnavailable } from '../../oidc/provider/errors.ts';
import { SCA_ACR } from '../../oidc/provider/sca-policy.ts';
import { isPayment, requestedDetails } from '../../oidc/fapi/authorization-details.ts';
import { describe } from '../../consents/details-wording.ts';
import type { ProviderHost } from '../../oidc/provider/host.ts';
import { saveGrant, scopeChoices } from './scopes.ts';
import { csrfMatches, newCsrfToken, readState, writeState, type InteractionState } from './state.ts';

export interface InteractionDependencies {
  host: ProviderHost;
  db: Database;
  signIn: SignIn;
  audit: AuditLog;
  consents: Consents;
  issuerName: string;
}

type Interaction = Awaited<ReturnType<ProviderHost['provider']['interactionDetails']>>;

// One message for an unknown user, a wrong password, a wrong code and a locked account (PSD2 RTS Art 4(3)(a)):
// nothing tells which factor failed or whether the account exists.
const FAILED = 'The username, password or verification code is not correct, or the account is temporarily locked after too many attempts. Please try again.';
const FAILURE_MESSAGES: Record<NonNullable<InteractionState['error']>, string> = {
  failed: FAILED,
  locked: FAILED,
  throttled: 'Too many failed sign-ins from your network. Please try again later.',
};

class InteractionPageError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Renders interaction failures as a page; an unknown, expired or other-browser interaction is a 400, never a crash. */
const pageErrors: Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (err) {
    let status = 500;
    let description = 'Something went wrong. Please return to the app and start again.';
    if (err instanceof InteractionPageError) {
      status = err.status;
      description = err.message;
    } else if (err instanceof DatabaseUnavailable || err instanceof StorageUnavailable) {
      // Nothing was half-done (each step is one statement or transaction): the person can simply retry.
      status = 503;
      description = 'Sign-in is temporarily unavailable. Please try again in a moment.';
      ctx.set('Retry-After', '5');
    } else if (err instanceof UnstorableInput) {
      status = 400;
      description = 'The form contains characters that are not allowed. Please try again.';
    } else if (err instanceof errors.SessionNotFound || err instanceof errors.InvalidRequest) {
      status = 400;
      description = 'This sign-in request is unknown or has expired. Please return to the app and start again.';
    } else {
      throw err;
    }
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = render('error', { heading: 'Sign-in could not continue', description, error: status === 403 ? 'forbidden' : status === 503 ? 'temporarily_unavailable' : 'invalid_request', requestId: ctx.state.requestId });
  }
};

const noStore: Middleware = async (ctx, next) => {
  ctx.set('Cache-Control', 'no-store');
  await next();
};

/**
 * The pages between a client's redirect and the authorization code: sign-in with both factors, TOTP enrolment,
 * consent. Every POST carries the interaction's CSRF token and answers 303 (RFC 9700 4.12: never 307).
 */
export function interactionRoutes({ host, db, signIn, audit, consents, issuerName }: InteractionDependencies): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const forms = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });

  async function load(ctx: Context): Promise<{ interaction: Interaction; state: InteractionState }> {
    const interaction = await host.provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid) throw new errors.SessionNotFound('interaction mismatch');
    let state = readState(interaction);
    if (!state) {
      state = { csrf: newCsrfToken() };
      await writeState(interaction, state);
    }
    return { interaction, state };
  }

  async function loadPost(ctx: Context, prompt: 'login' | 'consent' | 'any') {
    const loaded = await load(ctx);
    const body = ctx.request.body as Record<string, unknown> | undefined;
    if (!csrfMatches(loaded.state, body?.csrf)) throw new InteractionPageError(403, 'This form has expired. Please go back and try again.');
    if (prompt !== 'any' && loaded.interaction.prompt.name !== prompt) throw new InteractionPageError(400, 'This step is not part of this sign-in.');
    return { ...loaded, body: body ?? {} };
  }

  const field = (body: Record<string, unknown>, name: string, max: number): string => {
    const value = body[name];
    return typeof value === 'string' && value.length <= max && !value.includes('\0') ? value : '';
  };

  const see = (ctx: Context, location: string) => {
    ctx.status = 303;
    ctx.redirect(location);
  };

  router.use(pageErrors, noStore);

  router.get('/', async (ctx) => {
    const { interaction, state } = await load(ctx);
    const client = await host.provider.Client.find(String(interaction.params.client_id));
    if (interaction.prompt.name === 'login') {
      // Password and activation code were accepted in this interaction: enrolment continues.
      if (state.enrolment) return see(ctx, `/interaction/${interaction.uid}/enrol`);
      const error = state.error && FAILURE_MESSAGES[state.error];
      // Shown once. A pending step needs no clearing: the second step consumes it in the database.
      if (state.error) await writeState(interaction, { csrf: state.csrf });
      ctx.type = 'html';
      ctx.body = render('login', {
        uid: interaction.uid,
        csrf: state.csrf,
        error,
        clientName: client?.clientName,
        details: requestedDetails(interaction.params).map(describe),
        loginHint: typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : '',
      });
      return;
    }
    if (interaction.prompt.name === 'consent') {
      const requested = String(interaction.params.scope ?? 'openid').split(' ').filter(Boolean);
      const details = requestedDetails(interaction.params);
      ctx.type = 'html';
      ctx.body = render('consent', {
        uid: interaction.uid,
        csrf: state.csrf,
        details: details.map(describe),
        payment: isPayment(details),
        scopes: scopeChoices(requested),
        client: {
          name: client?.clientName ?? client?.clientId,
          uri: client?.clientUri,
          policyUri: client?.policyUri,
          tosUri: client?.tosUri,
        },
      });
      return;
    }
    throw new InteractionPageError(400, 'This sign-in step is not supported.');
  });

  router.post('/login', forms, async (ctx) => {
    const { interaction, state, body } = await loadPost(ctx, 'login');
    if (await signIn.ipThrottled(ctx.ip)) {
      await writeState(interaction, { csrf: state.csrf, error: 'throttled' });
      return see(ctx, `/interaction/${interaction.uid}`);
    }
    if (state.enrolment) return see(ctx, `/interaction/${interaction.uid}/enrol`);
    const step = await signIn.passwordStep(field(body, 'username', 256), field(body, 'password', 1024));
    // The same code page comes next whatever the first step found: an unknown account, a wrong password and an
    // account still without an authenticator (which takes its activation code there) look alike.
    await writeState(interaction, { csrf: state.csrf, step });
    see(ctx, `/interaction/${interaction.uid}/mfa`);
  });

  router.get('/mfa', async (ctx) => {
    const { interaction, state } = await load(ctx);
    if (interaction.prompt.name !== 'login' || !state.step) return see(ctx, `/interaction/${interaction.uid}`);
    ctx.type = 'html';
    ctx.body = render('mfa', { uid: interaction.uid, csrf: state.csrf, details: requestedDetails(interaction.params).map(describe) });
  });

  router.post('/mfa', forms, async (ctx) => {
    const { interaction, state, body } = await loadPost(ctx, 'login');
    if (!state.step) return see(ctx, `/interaction/${interaction.uid}`);
    const outcome = await signIn.secondStep(state.step, field(body, 'code', 32), origin(ctx));
    if (!outcome.ok) {
      const { reason } = outcome;
      // 'stale': another post of this step was judged; its outcome, not this one, decides what comes next.
      if (reason !== 'stale') await writeState(interaction, { csrf: state.csrf, error: reason });
      return see(ctx, `/interaction/${interaction.uid}`);
    }
    if ('enrol' in outcome) {
      await writeState(interaction, { csrf: state.csrf, enrolment: { accountId: outcome.accountId, sealed: signIn.newEnrolment().sealed } });
      return see(ctx, `/interaction/${interaction.uid}/enrol`);
    }
    await writeState(interaction, { csrf: state.csrf });
    const returnTo = await host.provider.interactionResult(
      ctx.req,
      ctx.res,
      { login: { accountId: outcome.accountId, acr: SCA_ACR, amr: outcome.amr, remember: true } },
      { mergeWithLastSubmission: false },
    );
    see(ctx, returnTo);
  });

  async function enrolmentPage(ctx: Context, interaction: Interaction, enrolment: NonNullable<InteractionState['enrolment']>, csrf: string, error?: string) {
    const account = await findAccountById(db, enrolment.accountId);
    const secret = signIn.openEnrolment(enrolment.sealed);
    const qr = await QRCode.toDataURL(totpUri(secret, issuerName, account?.username ?? 'account'), { margin: 1, width: 220 });
    ctx.status = error ? 400 : 200;
    ctx.type = 'html';
    ctx.body = render('enrol', { uid: interaction.uid, csrf, qr, secret, error });
  }

  // Only after password and activation code were accepted together (POST /mfa) is a secret shown.
  router.get('/enrol', async (ctx) => {
    const { interaction, state } = await load(ctx);
    if (interaction.prompt.name !== 'login' || !state.enrolment) return see(ctx, `/interaction/${interaction.uid}`);
    await enrolmentPage(ctx, interaction, state.enrolment, state.csrf);
  });

  router.post('/enrol', forms, async (ctx) => {
    const { interaction, state, body } = await loadPost(ctx, 'login');
    const enrolment = state.enrolment;
    if (!enrolment) return see(ctx, `/interaction/${interaction.uid}`);
    const codes = await signIn.confirmEnrolment(enrolment.accountId, enrolment.sealed, field(body, 'code', 32), origin(ctx));
    if (!codes) return enrolmentPage(ctx, interaction, enrolment, state.csrf, 'That code did not match. Check the time on your device and try the newest code.');
    await writeState(interaction, { csrf: state.csrf });
    const returnTo = await host.provider.interactionResult(
      ctx.req,
      ctx.res,
      { login: { accountId: enrolment.accountId, acr: SCA_ACR, amr: ['pwd', 'otp'], remember: true } },
      { mergeWithLastSubmission: false },
    );
    ctx.type = 'html';
    ctx.body = render('recovery-codes', { codes, continueTo: returnTo });
  });

  router.post('/consent', forms, async (ctx) => {
    const { interaction, body } = await loadPost(ctx, 'consent');
    const chosen = ([] as unknown[]).concat(body.scope ?? []).filter((s): s is string => typeof s === 'string');
    const authorizationDetails = requestedDetails(interaction.params);
    const consent = await saveGrant(host.provider, interaction, new Set(chosen), authorizationDetails);
    await consents.recordDecision(interaction.session!.accountId, consent.grantId!, interaction.grantId ? 'changed' : 'granted');
    // The record of what was authorised with which authentication (RTS Art 5(1): the payer saw amount and payee).
    await audit.record({
      type: 'consent.granted',
      actor: `account:${interaction.session!.accountId}`,
      accountId: interaction.session!.accountId,
      clientId: String(interaction.params.client_id),
      grantId: consent.grantId,
      details: {
        requested: String(interaction.params.scope ?? ''),
        allowed: chosen,
        ...(authorizationDetails.length
          ? { authorised: authorizationDetails.map((detail) => describe(detail).summary), authorization_details: JSON.stringify(authorizationDetails), sca_amr: interaction.lastSubmission?.login?.amr ?? [] }
          : {}),
      },
    });
    const returnTo = await host.provider.interactionResult(ctx.req, ctx.res, { consent }, { mergeWithLastSubmission: true });
    see(ctx, returnTo);
  });

  router.post('/cancel', forms, async (ctx) => {
    const { interaction } = await loadPost(ctx, 'any');
    if (interaction.prompt.name === 'consent') {
      await audit.record({
        type: 'consent.denied',
        actor: `account:${interaction.session!.accountId}`,
        accountId: interaction.session!.accountId,
        clientId: String(interaction.params.client_id),
      });
    }
    const returnTo = await host.provider.interactionResult(
      ctx.req,
      ctx.res,
      { error: 'access_denied', error_description: 'the person declined the request' },
      { mergeWithLastSubmission: false },
    );
    see(ctx, returnTo);
  });

  return router;
}


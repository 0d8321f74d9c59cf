import type { Context } from 'koa';
import { KluisError } from '../errors.ts';
import { endpointAt } from '../http/endpoints.ts';
import { pagesOf } from './render.ts';

/** What a person reads on the error page: catalogue keys (locales/), in their language. */
export interface ErrorText {
  heading: string;
  message: string;
}

/** What an error answers: the page a person sees, and the JSON (an OAuth-style error) an API client gets. */
export interface ErrorAnswer {
  status: number;
  /** The page's heading and sentence, as catalogue keys. */
  text: ErrorText;
  /** For developers and the log, in English: the JSON body's `error_description` unless `json` says otherwise. */
  description: string;
  /** The JSON body's `error` unless `json` says otherwise. */
  error: string;
  json?: Record<string, string>;
  /** Seconds, for 429 and 503: nothing was half-done, the request may simply be repeated. */
  retryAfter?: number;
}

/** A refusal written for the person who caused it, shown on the error page (or as JSON to an API client). */
export class PageError extends KluisError {
  readonly code: string;
  override readonly status: number;
  readonly answer: ErrorAnswer;

  constructor(code: string, answer: ErrorAnswer) {
    super(answer.description);
    this.code = code;
    this.status = answer.status;
    this.answer = answer;
  }
}

export interface ErrorPage {
  text: ErrorText;
  /** The OAuth error word or Kluis's, shown to developers only (never to people: it tells them nothing). */
  error: string;
  /** The detail for developers (e.g. which redirect_uri did not match): shown on the page in development only. */
  detail?: string | undefined;
  status: number;
}

/**
 * The one error page's HTML, for Kluis's answers below and for the errors oidc-provider renders (provider-pages): a
 * plain sentence and the request's reference, with a way on (back to the app when known, the support contact). The
 * protocol detail goes to the log; in development (an http issuer) it is shown too.
 */
export function errorPage(ctx: Context, page: ErrorPage): string {
  const pages = pagesOf(ctx);
  return pages.render(ctx, 'shared/error', {
    heading: page.text.heading,
    message: page.text.message,
    error: page.error,
    detail: pages.showDetail ? page.detail : undefined,
    requestId: ctx.state.requestId,
    status: page.status,
  });
}

/**
 * The one error page. A browser page (see the endpoint catalogue) answers with HTML when the request accepts it
 * (`Accept: text/html` or `*\/*`, RFC 9110 12.5.1) and with JSON when it asks for JSON only; an API always with JSON.
 */
export function answerError(ctx: Context, answer: ErrorAnswer): void {
  ctx.status = answer.status;
  if (answer.retryAfter !== undefined) ctx.set('Retry-After', String(answer.retryAfter));
  if (endpointAt(ctx.path)?.kind === 'page' && ctx.accepts('html', 'json') !== 'json') {
    const { text, error, description, status } = answer;
    ctx.type = 'html';
    ctx.body = errorPage(ctx, { text, error, detail: description, status });
  } else {
    ctx.body = answer.json ?? { error: answer.error, error_description: answer.description };
  }
}

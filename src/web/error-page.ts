import type { Context } from 'koa';
import { KluisError } from '../errors.ts';
import { endpointAt } from '../http/endpoints.ts';
import { render } from './render.ts';

/** What an error answers: the page a person sees, and the JSON (an OAuth-style error) an API client gets. */
export interface ErrorAnswer {
  status: number;
  heading: string;
  description: string;
  /** The error word the page shows, and the JSON body's `error` unless `json` says otherwise. */
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

/** The one error page's HTML, for Kluis's answers below and for the errors oidc-provider renders (provider-pages). */
export function errorPage(page: { heading: string; description: string; error: string; requestId: unknown }): string {
  return render('shared/error', page);
}

/**
 * The one error page. A browser page (see the endpoint catalogue) answers with HTML when the request accepts it
 * (`Accept: text/html` or `*\/*`, RFC 9110 12.5.1) and with JSON when it asks for JSON only; an API always with JSON.
 */
export function answerError(ctx: Context, answer: ErrorAnswer): void {
  ctx.status = answer.status;
  if (answer.retryAfter !== undefined) ctx.set('Retry-After', String(answer.retryAfter));
  if (endpointAt(ctx.path)?.kind === 'page' && ctx.accepts('html', 'json') !== 'json') {
    const { heading, description, error } = answer;
    ctx.type = 'html';
    ctx.body = errorPage({ heading, description, error, requestId: ctx.state.requestId });
  } else {
    ctx.body = answer.json ?? { error: answer.error, error_description: answer.description };
  }
}

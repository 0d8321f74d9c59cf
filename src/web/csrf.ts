import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import { PageError, type ErrorText } from './error-page.ts';

export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** A submitted anti-forgery token against the expected one, in constant time. */
export function tokensMatch(expected: string, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Lets a form post through only with the anti-forgery token (OWASP ASVS V3.5) its page was rendered with, in the
 * form's `csrf` field; otherwise the page `refused` describes (catalogue keys), as a 403.
 */
export function requireCsrf(expected: (ctx: Context) => string | undefined, refused: ErrorText): Middleware {
  return async (ctx, next) => {
    const token = expected(ctx);
    const submitted = (ctx.request.body as Record<string, unknown> | undefined)?.csrf;
    if (token === undefined || !tokensMatch(token, submitted)) {
      const description = 'the form was not sent with its anti-forgery token';
      throw new PageError('ERR_CSRF', { text: refused, description, status: 403, error: 'forbidden' });
    }
    await next();
  };
}

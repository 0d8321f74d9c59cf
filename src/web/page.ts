import type { Context } from 'koa';
import { pagesOf } from './render.ts';

/** Answers with a rendered page from `views/`, in the person's language. */
export function sendPage(ctx: Context, view: string, context: Record<string, unknown>, status = 200): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = pagesOf(ctx).render(ctx, view, context);
}

/** Every form post answers 303 See Other, so the browser follows with a GET (RFC 9700 4.12: never 307). */
export function seeOther(ctx: Context, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}

import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';

/** The body parser of every form Kluis's pages post: URL-encoded forms only, 16 KiB at most. */
export const formBody = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });

/** A value a form field may carry: a string of at most `max` characters without NUL (Postgres text cannot store it). */
function acceptable(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max && !value.includes('\0');
}

/**
 * The one rule for a posted field: its value when acceptable, else the empty string. An over-long value or one with
 * NUL is refused whole rather than cut, so what is judged is always what was sent.
 */
export function formField(ctx: Context, name: string, max: number): string {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
  return acceptable(value, max) ? value : '';
}

/** Every acceptable value of a field that may be repeated (checkboxes). */
export function formValues(ctx: Context, name: string, max: number): string[] {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
  return ([] as unknown[]).concat(value ?? []).filter((item) => acceptable(item, max));
}

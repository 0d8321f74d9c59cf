import type { Middleware } from 'koa';
import Provider from 'oidc-provider';

const PENDING = Symbol('writes the answer waits for');
type Waiting = { [PENDING]?: Promise<unknown>[] };

/**
 * Holds the answer of the request in progress until `write` has settled. oidc-provider's events are synchronous,
 * so a listener cannot make the request wait for what it writes; this lets it: the grant's record of until when the
 * JWT access tokens it issued live must be stored before the token is answered, or the account area could tell the
 * person their access ended while a token still works (GDPR Art 12(1): information that is accurate). Outside a
 * request (oidc-provider's own context is not there) the write just runs.
 */
export function answerAfter(write: Promise<unknown>): void {
  const ctx = Provider.ctx as Waiting | undefined;
  if (!ctx) return;
  ctx[PENDING] ??= [];
  ctx[PENDING].push(write);
}

/** The provider middleware that waits for {@link answerAfter}'s writes once the answer is ready, before it is sent. */
export const awaitAnswerAfter: Middleware = async (ctx, next) => {
  await next();
  const pending = (ctx as Waiting)[PENDING];
  if (pending) await Promise.allSettled(pending);
};

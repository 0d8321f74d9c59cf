import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { requestContext } from '../log/request-context.ts';

const SAFE_ID = /^[\w.:-]{1,128}$/;

/**
 * Gives every request an id, echoed in `X-Request-Id`, carried in logs and audit rows. An incoming id is kept
 * only from a trusted proxy and only when it is short and plain, so it cannot forge log lines.
 */
export function requestId(trustProxy: boolean): Middleware {
  return (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    const id = trustProxy && SAFE_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    return requestContext.run({ requestId: id }, next);
  };
}

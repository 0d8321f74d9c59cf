import type Router from '@koa/router';
import { PageError } from '../error-page.ts';
import { seeOther } from '../page.ts';
import type { AccountArea } from './area.ts';
import { safeReturn } from './session.ts';

/** Sign-in for the account area goes through the normal authorization endpoint with Kluis's own client. */
export function loginRoutes(router: Router, { deps: { session } }: AccountArea): void {
  router.get('/login', (ctx) => {
    seeOther(ctx, session.startLogin(ctx, { returnTo: safeReturn(ctx.query.return), fresh: ctx.query.fresh === '1' }));
  });
  router.get('/callback', async (ctx) => {
    if (typeof ctx.query.error === 'string') {
      const description = 'Sign-in was cancelled or did not complete.';
      const text = { heading: 'error.notSignedIn.heading', message: 'error.notSignedIn.message' };
      const answer = { status: 400, text, description, error: ctx.query.error };
      throw new PageError('ERR_ACCOUNT_NOT_SIGNED_IN', answer);
    }
    const next = await session.finishLogin(ctx);
    if (!next) {
      const description = 'This sign-in was not started here or has expired. Please open your account again.';
      const text = { heading: 'error.signIn.heading', message: 'error.account.callback' };
      const answer = { status: 400, text, description, error: 'invalid_request' };
      throw new PageError('ERR_ACCOUNT_CALLBACK', answer);
    }
    seeOther(ctx, next);
  });
}

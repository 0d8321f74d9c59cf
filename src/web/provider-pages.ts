import type { Logger } from '../log/logger.ts';
import type { ProviderPages } from '../oidc/provider/pages.ts';
import { errorPage, type ErrorText } from './error-page.ts';
import { pagesOf } from './render.ts';

/** What a person reads for a protocol error: whose fault it is not, and what to do; never the protocol detail. */
function textFor(error: string): ErrorText {
  if (error === 'temporarily_unavailable')
    return { heading: 'error.unavailable.heading', message: 'error.unavailable.message' };
  if (error === 'server_error') return { heading: 'error.server.heading', message: 'error.server.message' };
  return { heading: 'error.request.heading', message: 'error.request.message' };
}

/**
 * Kluis's own pages for oidc-provider (its defaults load web fonts from a third party). A protocol error's detail
 * ("redirect_uri did not match …") is for the app's developers: it goes to the log with the request's reference,
 * which the page shows.
 */
export function providerPages(log: Logger): ProviderPages {
  const protocolErrorPage: ProviderPages['error'] = (ctx, out) => {
    log.info(
      { requestId: ctx.state.requestId, error: out.error, detail: out.error_description },
      'protocol error shown',
    );
    return errorPage(ctx, {
      text: textFor(out.error),
      error: out.error,
      detail: out.error_description,
      status: ctx.status,
    });
  };
  return {
    logoutConfirmation: (ctx, form, client) => pagesOf(ctx).render(ctx, 'provider/logout', { form, client }),
    signedOut: (ctx, client) => pagesOf(ctx).render(ctx, 'provider/signed-out', { client }),
    error: protocolErrorPage,
    requestUriRefused: protocolErrorPage,
  };
}

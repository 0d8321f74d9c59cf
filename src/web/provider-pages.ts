import { currentRequestId } from '../log/request-context.ts';
import type { ProtocolError, ProviderPages } from '../oidc/provider/pages.ts';
import { errorPage } from './error-page.ts';
import { render } from './render.ts';

function protocolErrorPage(out: ProtocolError): string {
  return errorPage({
    heading: out.error === 'temporarily_unavailable' ? 'Temporarily unavailable' : 'Something went wrong',
    description: out.error_description ?? 'The request could not be completed.',
    error: out.error,
    requestId: currentRequestId(),
  });
}

/** Kluis's own pages for oidc-provider (its defaults load web fonts from a third party). */
export const providerPages: ProviderPages = {
  logoutConfirmation: (form, client) => render('provider/logout', { form, client }),
  signedOut: (client) => render('provider/signed-out', { client }),
  error: protocolErrorPage,
  requestUriRefused: protocolErrorPage,
};

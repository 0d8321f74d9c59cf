import type { Configuration } from 'oidc-provider';
import { appToName } from '../../clients/account-client.ts';
import { LANGUAGES } from '../../../i18n/catalogues.ts';
import type { ProviderPages } from '../pages.ts';

/** What a browser sees of oidc-provider itself: Kluis's own pages (its defaults load web fonts from a third party). */
export function pages(kluisPages: ProviderPages): Configuration {
  return {
    // The languages of Kluis's pages, chosen from ui_locales (OIDC Core 3.1.2.1) among others (i18n/negotiate.ts),
    // and of the claim descriptions on its consent screen (OIDC Discovery 1.0 section 3).
    discovery: { ui_locales_supported: [...LANGUAGES], claims_locales_supported: [...LANGUAGES] },
    features: {
      // RP-initiated logout with Kluis's own pages.
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          // `form` is oidc-provider's hidden form (action and xsrf token); the buttons submit it.
          const client = appToName(ctx.oidc.client);
          ctx.body = kluisPages.logoutConfirmation(ctx, form, client?.clientName ?? client?.clientId);
        },
        async postLogoutSuccessSource(ctx) {
          const client = appToName(ctx.oidc.client);
          const links = client && { name: client.clientName ?? client.clientId, uri: client.clientUri };
          ctx.body = kluisPages.signedOut(ctx, links);
        },
      },
      // OpenID Connect Back-Channel Logout 1.0: clients with a backchannel_logout_uri hear of every sign-out.
      backchannelLogout: { enabled: true },
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = kluisPages.error(ctx, out);
    },
  };
}

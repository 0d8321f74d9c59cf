import type { Configuration } from 'oidc-provider';
import type { ProviderPages } from '../pages.ts';

/** What a browser sees of oidc-provider itself: Kluis's own pages (its defaults load web fonts from a third party). */
export function pages(kluisPages: ProviderPages): Configuration {
  return {
    features: {
      // RP-initiated logout with Kluis's own pages.
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          // `form` is oidc-provider's hidden form (action and xsrf token); the buttons submit it.
          ctx.body = kluisPages.logoutConfirmation(form, ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = kluisPages.signedOut(ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId);
        },
      },
      // OpenID Connect Back-Channel Logout 1.0: clients with a backchannel_logout_uri hear of every sign-out.
      backchannelLogout: { enabled: true },
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = kluisPages.error(out);
    },
  };
}

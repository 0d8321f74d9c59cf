import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

/** The ACR value Kluis asserts: the person passed strong customer authentication (two independent factors). */
export const SCA_ACR = 'urn:kluis:acr:sca';

const { base, Check } = interactionPolicy;

/**
 * oidc-provider's prompts, plus three SCA rules for the login prompt:
 * - a session whose last SCA is older than `maxAge` seconds must authenticate again (PSD2 RTS Art 4(3)(d));
 * - a request naming `acr_values` asks for a fresh SCA now;
 * - a request with authorization details (a payment, access to accounts) needs a fresh SCA in this very interaction,
 *   with the details shown while the person authenticates (RTS Art 5 dynamic linking, Art 10a).
 * All are skipped on the resume right after a login, so they cannot loop.
 */
export function scaPolicy(maxAge: number) {
  const policy = base();
  const login = policy.get('login');
  if (!login) throw new Error("oidc-provider's base policy has no login prompt");
  login.checks.add(
    new Check(
      'sca_expired',
      'strong customer authentication has expired',
      'login_required',
      (ctx: KoaContextWithOIDC) => {
        const { oidc } = ctx;
        if (!oidc.session?.accountId || oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
        return oidc.session.past(maxAge) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
      },
    ),
  );
  login.checks.add(
    new Check(
      'acr_values',
      'a fresh strong customer authentication is requested',
      'login_required',
      (ctx: KoaContextWithOIDC) => {
        const { oidc } = ctx;
        if (oidc.params?.acr_values === undefined || oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
        return Check.REQUEST_PROMPT;
      },
    ),
  );
  login.checks.add(
    new Check(
      'authorization_details',
      'authorization details need a fresh strong customer authentication',
      'login_required',
      (ctx: KoaContextWithOIDC) => {
        const { oidc } = ctx;
        if (oidc.params?.authorization_details === undefined || oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
        return Check.REQUEST_PROMPT;
      },
    ),
  );
  return policy;
}

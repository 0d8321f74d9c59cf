import type { Configuration } from 'oidc-provider';
import type { Database } from '../../../db/database.ts';
import { PgGrantStore } from '../../../db/grants.ts';
import { ACCOUNT_CLIENT_ID } from '../../clients/account-client.ts';
import { requestedDetails } from '../../fapi/authorization-details.ts';
import { unlessUnavailable } from '../errors.ts';

/** Which earlier consent (oidc-provider Grant) an authorization request may reuse without asking again. */
export function grants(db: Database): Configuration {
  const store = new PgGrantStore(db);
  return {
    // A consent given once holds for later sign-ins from any browser, until it expires or is withdrawn.
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const accountId = oidc.session?.accountId;
      if (!accountId || !oidc.client) return undefined;
      const fromConsent = (oidc.result?.consent as { grantId?: string } | undefined)?.grantId;
      if (fromConsent) return oidc.provider.Grant.find(fromConsent);
      // Each open banking authorization is its own grant, shown, authenticated and authorised afresh: only the grant
      // made by this very interaction's consent (above) counts.
      if (requestedDetails(oidc.params ?? {}).length) return undefined;
      // Kluis's own account area is first-party: the person is not asked to consent to it.
      if (oidc.client.clientId === ACCOUNT_CLIENT_ID) {
        const previous = oidc.session.grantIdFor(ACCOUNT_CLIENT_ID);
        const kept = previous ? await oidc.provider.Grant.find(previous) : undefined;
        if (kept) return kept;
        const grant = new oidc.provider.Grant({ accountId, clientId: ACCOUNT_CLIENT_ID });
        grant.addOIDCScope('openid');
        await grant.save();
        return grant;
      }
      // The session remembers the client's latest grant, which may be a payment's or an account access's: those are
      // never reused for an ordinary sign-in, which falls back to the person's ordinary consent.
      const remembered = oidc.session.grantIdFor(oidc.client.clientId);
      const sessionGrant = remembered ? await oidc.provider.Grant.find(remembered) : undefined;
      if (sessionGrant && !sessionGrant.rar?.length) return sessionGrant;
      const stored = await unlessUnavailable(store.reusableGrantId(accountId, oidc.client.clientId));
      return stored ? oidc.provider.Grant.find(stored) : undefined;
    },
  };
}

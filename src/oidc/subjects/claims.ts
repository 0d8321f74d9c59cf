import type { Account, FindAccount } from 'oidc-provider';
import type { AccountRecord, AccountRecords } from '../../db/account-store.ts';
import { unlessUnavailable } from '../provider/errors.ts';

/** Standard claims (OIDC Core 5.4) per scope; oidc-provider releases only those of granted scopes. */
export const CLAIMS = {
  sid: null,
  iss: null,
  // How the person authenticated (OIDC Core 2) goes into every ID token: relying parties check SCA with acr/amr.
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'locale', 'zoneinfo', 'updated_at'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
};

/**
 * Looks people up for oidc-provider; a disabled account is treated as gone, so its tokens stop working. A request
 * reads an account once, however often it asks (oidc-provider, then Kluis's check that a token's person is active).
 */
export function accountFinder(accounts: Pick<AccountRecords, 'findById'>): FindAccount {
  const read = new WeakMap<object, Map<string, Promise<AccountRecord | undefined>>>();
  return async (ctx, id) => {
    const seen = read.get(ctx) ?? new Map<string, Promise<AccountRecord | undefined>>();
    read.set(ctx, seen);
    const lookup = seen.get(id) ?? unlessUnavailable(accounts.findById(id));
    seen.set(id, lookup);
    const account = await lookup;
    if (account?.status !== 'active') return undefined;
    const found: Account = {
      accountId: account.id,
      claims: async () => ({
        ...account.claims,
        sub: account.id,
        preferred_username: account.username,
        ...(account.email ? { email: account.email, email_verified: account.claims.email_verified === true } : {}),
      }),
    };
    return found;
  };
}

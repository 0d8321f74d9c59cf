<<<<<<< ours
import { errors, type Configuration, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { Config } from '../../config/env.ts';
import { CLOCK_TOLERANCE, ID_TOKEN_TTL, SIGNING_ALGS } from '../../config/protocol-constants.ts';
import type { Database } from '../../db/database.ts';
import type { ClientCache } from '../../db/client-cache.ts';
import { postgresAdapter } from '../../db/oidc-adapter.ts';
import { PgGrantStore } from '../../db/grants.ts';
import { findResourceServer } from '../../db/resource-servers.ts';
import type { ServerSecrets } from '../../secrets/server-secrets.ts';
import { accountFinder, CLAIMS } from '../subjects/claims.ts';
import { unlessUnavailable } from './errors.ts';
import { providerAdapters } from './adapter.ts';
import type { KeyRing } from './keys.ts';
import type { ProviderPages } from './pages.ts';
import { SCA_ACR, scaPolicy } from './sca-policy.ts';
import { ACCOUNT_CLIENT_ID } from '../clients/account-client.ts';
import { checkClientMetadata } from '../clients/policy.ts';
import { pairwiseSubject } from '../subjects/pairwise.ts';
import { NewClients, registrationFeatures } from '../clients/registration.ts';
import { grantLifetime, isPayment, requestedDetails, richAuthorizationRequests, type AuthorizationDetail } from '../fapi/authorization-details.ts';
import { FAPI_PROFILE_METADATA, fapiFeatures, rotateRefreshToken } from '../fapi/profile.ts';
import { mtlsFeature } from '../fapi/mtls.ts';
import { clientAssertionPolicy } from '../fapi/client-assertions.ts';

export interface ProviderSettings {
  config: Config;
  db: Database;
  secrets: ServerSecrets;
  keys: KeyRing;
  /** Scopes of the registered resource servers; oidc-provider only lets clients register known scopes. */
  resourceScopes: string[];
  /** The server's client cache; the CLI runs without one. */
  clientCache?: ClientCache | undefined;
  pages: ProviderPages;
}

const algs = [...SIGNING_ALGS];

/** Seconds a session without a signed-in account is kept. */
export const ACCOUNTLESS_SESSION_TTL = 600;

/**
 * Client metadata Kluis adds to RFC 7591's: `introspect_any_token` marks a resource server's client, which may
 * introspect tokens issued to other clients. Every other client only learns about its own tokens (RFC 7662 4).
 */
export const EXTRA_CLIENT_METADATA = ['introspect_any_token', FAPI_PROFILE_METADATA, 'software_statement', 'software_id', 'software_version'];

/** oidc-provider's configuration, strict by default (RFC 9700, FAPI 2.0 SP 5). */
export function providerConfiguration({ config, db, secrets, keys, resourceScopes, clientCache, pages }: ProviderSettings): Configuration {
  const maxAccessTokenTtl = config.accessTokenTtl;
  // A JWT access token outlives a withdrawn consent (it cannot be recalled), so it is kept shorter.
  const ceiling = (format: string | undefined) => (format === 'jwt' ? Math.min(config.jwtAccessTokenTtl, maxAccessTokenTtl) : maxAccessTokenTtl);
  const accessTokenTtl = (_ctx: KoaContextWithOIDC, token: { resourceServer?: ResourceServer }) => {
    const max = ceiling(token.resourceServer?.accessTokenFormat);
    return Math.min(token.resourceServer?.accessTokenTTL ?? max, max);
  };

  const findAccount = accountFinder(db);
  const grants = new PgGrantStore(db);

  const newClients = new NewClients();
  return {
    adapter: providerAdapters(newClients.adapters(postgresAdapter(db, secrets.box, clientCache))),
    jwks: keys.jwks as Configuration['jwks'],
    cookies: {
      keys: secrets.cookieKeys,
      // Over https the session cookie gets the __Host- prefix (Secure, Path=/, no Domain). Interaction cookies are
      // path-scoped by oidc-provider, which __Host- forbids, so they get __Secure- (RFC 6265bis 4.1.3).
      names: config.production
        ? { session: '__Host-kluis.session', interaction: '__Secure-kluis.interaction', resume: '__Secure-kluis.resume' }
        : { session: 'kluis.session', interaction: 'kluis.interaction', resume: 'kluis.resume' },
      long: { httpOnly: true, sameSite: 'lax', secure: config.production },
      short: { httpOnly: true, sameSite: 'lax', secure: config.production },
    },

    // Only the authorization code flow (RFC 9700 2.1.2: no implicit, no hybrid, no password grant).
    responseTypes: ['code'],
    // PKCE S256 for every client, public or confidential (RFC 9700 2.1.1).
    pkce: { required: () => true },
    allowOmittingSingleRegisteredRedirectUri: false,
    scopes: ['openid', 'offline_access', 'profile', 'email', 'phone', ...resourceScopes],
    claims: CLAIMS,
    acrValues: [SCA_ACR],
    interactions: {
      policy: scaPolicy(config.sca.maxAge),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // Pairwise by default (OIDC Core 8.1): `public` only for first-party clients the operator registers as such.
    // oidc-provider's outbound calls (back-channel logout, remote client JWKS) refuse special-use addresses. In
    // development (http issuer) a developer's loopback services are allowed, as for redirect URIs.
    ...(config.production ? {} : { fetch: (url: string | URL | Request, options?: RequestInit) => fetch(url, { ...options, dispatcher: undefined } as RequestInit) }),
    subjectTypes: ['public', 'pairwise'],
    pairwiseIdentifier: pairwiseSubject(secrets.pairwiseSalt),
    // Kluis checks sector_identifier_uri itself (sector-identifier.ts), on the CLI path as well as registration.
    sectorIdentifierUriValidate: () => false,
    clockTolerance: CLOCK_TOLERANCE,
    assertJwtClientAuthClaimsAndHeader: clientAssertionPolicy(CLOCK_TOLERANCE),

    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
      // JARM responses (response_mode=jwt) are signed like ID tokens; oidc-provider's default, RS256, is not offered.
      authorization_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
      subject_type: 'pairwise',
      // oidc-provider lets a client without `scope` metadata ask for any known scope; an API's scopes must be
      // granted to a client explicitly.
      scope: 'openid offline_access',
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none', ...(config.mtlsCertificateHeader ? ['self_signed_tls_client_auth' as const] : [])],
    extraClientMetadata: {
      properties: EXTRA_CLIENT_METADATA,
      validator(_ctx, key, value, metadata) {
        if (key === 'introspect_any_token' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('introspect_any_token must be a boolean');
        }
        if (key !== 'introspect_any_token' && value !== undefined && typeof value !== 'string') {
          throw new errors.InvalidClientMetadata(`${key} must be a string`);
        }
        // Called once per extra property; the whole-client rules run once, with the first.
        if (key === EXTRA_CLIENT_METADATA[0]) checkClientMetadata(metadata as Record<string, unknown>, config.production);
      },
    },

    // Asymmetric algorithms only: no `none`, no HS256 (shared secrets), no RS256 (PKCS#1 v1.5).
    enabledJWA: {
      idTokenSigningAlgValues: algs,
      userinfoSigningAlgValues: algs,
      introspectionSigningAlgValues: algs,
      authorizationSigningAlgValues: algs,
      requestObjectSigningAlgValues: algs,
      clientAuthSigningAlgValues: algs,
      dPoPSigningAlgValues: algs,
    },

    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: ID_TOKEN_TTL,
      Interaction: 600,
      DeviceCode: 600,
      BackchannelAuthenticationRequest: 600,
      // Account access lasts until the date the person agreed to (a FAPI refresh token is never rotated, so its own
      // lifetime is the access's); other refresh tokens 30 days.
      RefreshToken: (_ctx, token) => grantLifetime((token.rar ?? []) as AuthorizationDetail[], maxAccessTokenTtl) ?? 30 * 86400,
      // A session nobody signed in to (an anonymous visit to /session/end, an abandoned sign-in) holds nothing worth
      // keeping: it lives ten minutes, so anonymous requests cannot fill the table; signing in saves it again, longer.
      Session: (_ctx, session) => (session.accountId ? 14 * 86400 : ACCOUNTLESS_SESSION_TTL),
      // A leaked registration access token reads and rewrites its client (RFC 7592 3): it expires, and every update
      // replaces it with a new one of the full lifetime.
      RegistrationAccessToken: config.registration.accessTokenTtl,
      // A payment consent lasts as long as its access token; account access until the date the person agreed to.
      Grant: (_ctx, grant) => grantLifetime((grant.rar ?? []) as AuthorizationDetail[], maxAccessTokenTtl) ?? 180 * 86400,
    },

    features: {
      devInteractions: { enabled: false },
      ...fapiFeatures(secrets.dpopNonceSecret),
      ...mtlsFeature(config.mtlsCertificateHeader),
      richAuthorizationRequests: richAuthorizationRequests(),
      // RP-initiated logout with Kluis's own pages (oidc-provider's defaults load web fonts from a third party).
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          // `form` is oidc-provider's hidden form (action and xsrf token); the buttons submit it.
          ctx.body = pages.logoutConfirmation(form, ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = pages.signedOut(ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId);
        },
      },
      // OpenID Connect Back-Channel Logout 1.0: clients with a backchannel_logout_uri hear of every sign-out.
      backchannelLogout: { enabled: true },
      ...registrationFeatures(config, db, secrets.box, newClients),
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      introspection: {
        enabled: true,
        async allowedPolicy(ctx, client, token) {
          // A person's token is inactive once the account is disabled or erased, as userinfo and refresh treat it.
          if ('accountId' in token && token.accountId && !(await findAccount(ctx, token.accountId))) return false;
          if (token.clientId === client.clientId) return true;
          if ((client as unknown as { introspect_any_token?: boolean }).introspect_any_token !== true) return false;
          // A token of a disabled or removed client is inactive (`clients disable` stops its tokens at once).
          return token.clientId !== undefined && (await ctx.oidc.provider.Client.find(token.clientId)) !== undefined;
        },
      },
      revocation: {
        enabled: true,
        // Another client's token is left alone and the answer is the same 200 (RFC 7009 2.2), so nothing leaks.
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        async getResourceServerInfo(_ctx, resourceIndicator, client) {
          const server = await unlessUnavailable(findResourceServer(db, resourceIndicator));
          if (!server) throw new errors.InvalidTarget('resource indicator is not registered');
          // A client receives a resource server's scope only where its own `scope` metadata lists it.
          const allowed = new Set((client.scope ?? '').split(' '));
          return {
            scope: server.scope.split(' ').filter((scope) => allowed.has(scope)).join(' '),
            audience: server.identifier,
            accessTokenTTL: Math.min(server.accessTokenTtl ?? ceiling(server.accessTokenFormat), ceiling(server.accessTokenFormat)),
            accessTokenFormat: server.accessTokenFormat,
            ...(server.accessTokenFormat === 'jwt' ? { jwt: { sign: { alg: server.signingAlg } } } : {}),
          };
        },
      },
    },

    // Every refresh rotates the refresh token, except a FAPI client's (fapi.ts); redeeming is one atomic consume: of
    // parallel refreshes with one token exactly one succeeds, and a stolen, already-used token is refused
    // (RFC 9700 4.14.2).
    rotateRefreshToken,
    // A payment is authorised once: its code yields one access token and no refresh token (RTS Art 5).
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access') && !isPayment((code as { rar?: unknown[] }).rar),
    findAccount,
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
      const stored = await unlessUnavailable(grants.reusableGrantId(accountId, oidc.client.clientId));
      return stored ? oidc.provider.Grant.find(stored) : undefined;
    },
=======
import type { Configuration } from 'oidc-provider';
import { clients } from '../clients/configuration.ts';
import { NewClients } from '../clients/registration.ts';
import { fapi } from '../fapi/configuration.ts';
import { accountFinder } from '../subjects/claims.ts';
import { subjects } from '../subjects/configuration.ts';
import { algorithms } from './configuration/algorithms.ts';
import { authorization } from './configuration/authorization.ts';
import { engine } from './configuration/engine.ts';
import { grants } from './configuration/grants.ts';
import { lifetimes } from './configuration/lifetimes.ts';
import { pages } from './configuration/pages.ts';
import { resources } from './configuration/resources.ts';
import type { ProviderSettings } from './configuration/settings.ts';
import { tokens } from './configuration/tokens.ts';

/** oidc-provider's configuration, strict by default (RFC 9700, FAPI 2.0 SP 5), assembled from one slice per feature. */
export function providerConfiguration(settings: ProviderSettings): Configuration {
  const { config, db, secrets } = settings;
  const findAccount = accountFinder(db);
  // Shared by storage and registration: registrations under way are written with an insert, never an upsert.
  const newClients = new NewClients();
  return assemble([
    engine(settings, newClients),
    authorization(config, settings.resourceScopes),
    subjects(secrets, findAccount),
    clients(config, db, secrets.box, newClients),
    algorithms(),
    lifetimes(config),
    fapi(config, secrets),
    tokens(findAccount),
    resources(config, db),
    grants(db),
    pages(settings.pages),
  ]);
}
>>>>>>> theirs

/** The slices as one configuration. A setting or feature configured by two slices is a bug: one would be lost. */
function assemble(slices: Configuration[]): Configuration {
  const seen = new Set<string>();
  const claim = (key: string) => {
    if (seen.has(key)) throw new Error(`${key} is configured by two slices`);
    seen.add(key);
  };
  const assembled: Record<string, unknown> = {};
  const features: Record<string, unknown> = {};
  for (const { features: more = {}, ...settings } of slices) {
    for (const key of Object.keys(settings)) claim(key);
    for (const key of Object.keys(more)) claim(`features.${key}`);
    Object.assign(assembled, settings);
    Object.assign(features, more);
  }
  return { ...assembled, features } as Configuration;
}

import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

/**
 * The FAPI 2.0 Security Profile, per client. A client whose metadata says `"fapi_profile": "2.0"` (set by the
 * operator, by dynamic registration, or by a software statement) is held to FAPI 2.0 SP (final) section 5; every
 * other client keeps Kluis's general profile (which is already strict: code flow only, PKCE S256, exact redirects).
 */
export const FAPI_PROFILE_METADATA = 'fapi_profile';
const FAPI_2 = '2.0';

/** FAPI 2.0 SP 5.3.2.1: confidential clients authenticating with private_key_jwt or mutual TLS only. */
const FAPI_AUTH_METHODS = ['private_key_jwt', 'self_signed_tls_client_auth'];

type ClientLike = { [FAPI_PROFILE_METADATA]?: unknown } | undefined;

function isFapiClient(client: ClientLike): boolean {
  return client?.[FAPI_PROFILE_METADATA] === FAPI_2;
}

/**
 * Checks, and completes, the metadata of a FAPI 2.0 client. oidc-provider runs it while it validates a client (it may
 * change the metadata it is given), as do the CLI and dynamic registration, so every path gets the same client:
 * - pushed authorization requests are required (SP 5.3.2.2 item 1): set, whatever the metadata said;
 * - it authenticates with private_key_jwt or self-signed mutual TLS (SP 5.3.2.1);
 * - its access tokens are sender-constrained by DPoP or by its certificate (SP 5.3.2.1 item 5);
 * - it receives ID tokens, and signed responses, only in PS256, ES256 or EdDSA (SP 5.4.1, Kluis's enabledJWA).
 */
export function checkFapiMetadata(metadata: Record<string, unknown>): void {
  const profile = metadata[FAPI_PROFILE_METADATA];
  if (profile === undefined) return;
  if (profile !== FAPI_2)
    throw new errors.InvalidClientMetadata(
      `${FAPI_PROFILE_METADATA} must be "${FAPI_2}" (the FAPI 2.0 Security Profile)`,
    );
  const method = metadata.token_endpoint_auth_method;
  if (typeof method !== 'string' || !FAPI_AUTH_METHODS.includes(method)) {
    throw new errors.InvalidClientMetadata(
      `FAPI 2.0 clients authenticate with ${FAPI_AUTH_METHODS.join(' or ')} (token_endpoint_auth_method)`,
    );
  }
  if (metadata.dpop_bound_access_tokens !== true && metadata.tls_client_certificate_bound_access_tokens !== true) {
    throw new errors.InvalidClientMetadata(
      'FAPI 2.0 clients must sender-constrain their tokens: set dpop_bound_access_tokens or tls_client_certificate_bound_access_tokens to true',
    );
  }
  metadata.require_pushed_authorization_requests = true;
}

/**
 * The oidc-provider features FAPI 2.0 needs, with Kluis's choices:
 * - `fapi`: oidc-provider's own FAPI 2.0 checks (redirect_uri always required, request object `exp`-`nbf` at most
 *   60 minutes) for FAPI clients only; the client assertion `aud` rule is Kluis's (client-assertions.ts);
 * - `pushedAuthorizationRequests`: open to every client, required where the client's metadata says so;
 * - `dPoP`: server nonces for every proof (RFC 9449 8), derived from one secret shared by all processes; proofs are
 *   single-use through the ReplayDetection rows in Postgres (claimed atomically, see oidc-adapter.ts);
 * - `requestObjects` (JAR, RFC 9101) and `jwtResponseModes` (JARM) for clients that use them; a client with
 *   `require_signed_request_object` must send a signed request object.
 */
export function fapiFeatures(
  dpopNonceSecret: Buffer,
): Pick<
  NonNullable<Configuration['features']>,
  'fapi' | 'pushedAuthorizationRequests' | 'dPoP' | 'requestObjects' | 'jwtResponseModes'
> {
  return {
    fapi: {
      enabled: true,
      profile: (_ctx: KoaContextWithOIDC, client: unknown) =>
        (isFapiClient(client as ClientLike) ? FAPI_2 : undefined) as typeof FAPI_2,
    },
    pushedAuthorizationRequests: {
      enabled: true,
      requirePushedAuthorizationRequests: false,
      allowUnregisteredRedirectUris: false,
    },
    dPoP: { enabled: true, nonceSecret: dpopNonceSecret, requireNonce: () => true, allowReplay: false },
    requestObjects: { enabled: true, requireSignedRequestObject: false },
    jwtResponseModes: { enabled: true },
  };
}

/**
 * FAPI 2.0 SP 5.3.2.1 item 9 and RFC 9700 4.14.2: a sender-constrained FAPI client's refresh token is not rotated
 * (it is bound to the client through its key-based client authentication, RFC 9449 5 and RFC 8705 4; each refresh
 * still needs a DPoP proof or certificate, to which the new access token is bound); every other client's refresh
 * token is rotated at each use.
 */
export function rotateRefreshToken(ctx: KoaContextWithOIDC): boolean {
  return !isFapiClient(ctx.oidc.client as ClientLike);
}

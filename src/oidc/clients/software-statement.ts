import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
} from 'jose';
import { errors } from 'oidc-provider';
import type { SoftwareStatementTrust } from '../../config/env.ts';
import { OPERATOR_ONLY_METADATA } from './policy.ts';
import { FAPI_PROFILE_METADATA } from '../fapi/profile.ts';
import { CLOCK_TOLERANCE, SIGNING_ALGS } from '../../config/protocol-constants.ts';

/**
 * The client metadata a statement may assert (RFC 7591 2, OpenID Connect Registration 2, and the extensions Kluis
 * enables: PAR, DPoP, mTLS, RAR, JARM, back-channel logout, FAPI). Any other claim (a directory's own, such as
 * `org_name`) is kept inside the stored statement and not applied.
 */
const REGISTRABLE = new Set([
  'application_type',
  'client_name',
  'client_uri',
  'logo_uri',
  'policy_uri',
  'tos_uri',
  'contacts',
  'redirect_uris',
  'post_logout_redirect_uris',
  'grant_types',
  'response_types',
  'scope',
  'subject_type',
  'sector_identifier_uri',
  'token_endpoint_auth_method',
  'token_endpoint_auth_signing_alg',
  'jwks',
  'jwks_uri',
  'id_token_signed_response_alg',
  'authorization_signed_response_alg',
  'request_object_signing_alg',
  'require_signed_request_object',
  'require_pushed_authorization_requests',
  'dpop_bound_access_tokens',
  'tls_client_certificate_bound_access_tokens',
  'authorization_details_types',
  'backchannel_logout_uri',
  'backchannel_logout_session_required',
  'default_max_age',
  'require_auth_time',
  'default_acr_values',
  'initiate_login_uri',
  'software_id',
  'software_version',
  FAPI_PROFILE_METADATA,
]);

/**
 * What the authorization server assigns (RFC 7591 3.2.1: `client_id`, `client_secret`, their `*_issued_at` and
 * `*_expires_at`; RFC 7592 3: `registration_*`), the statement itself, and what only the operator may grant. A
 * statement claiming any of it is refused: the directory is either broken or trying to take over a client.
 */
function reservedClaim(name: string): boolean {
  return (
    ['client_id', 'client_secret', 'software_statement', ...OPERATOR_ONLY_METADATA].includes(name) ||
    name.startsWith('registration_') ||
    /_(issued|expires)_at$/.test(name)
  );
}

type Properties = Record<string, unknown>;

/**
 * RFC 7592 2.2 updates a client; it does not turn it into another one. A statement presented at an update must be
 * for the same software from the same directory as the one registered: otherwise a registration access token
 * holder could swap in any other software's redirect URIs, keys and FAPI profile, keeping the client_id and with it
 * the people's consents and grants. A client registered without a statement may add one.
 */
function sameSoftware(registered: JWTPayload, presented: JWTPayload): void {
  if (registered.iss !== presented.iss || registered.software_id !== presented.software_id) {
    throw new errors.InvalidSoftwareStatement('a statement for other software needs a new registration');
  }
}

/**
 * RFC 7591 2.3 software statements: a JWT from a directory the operator trusts, whose claims are client metadata.
 * At registration the statement's registrable claims are applied over the request's (3.1.1: they take precedence),
 * so a client cannot override what its directory asserted; on an RFC 7592 update they are applied again (a newly
 * presented statement must be for the same software, see {@link sameSoftware}). The
 * registration policy then judges the result like any other metadata.
 */
export class SoftwareStatements {
  readonly #trust: SoftwareStatementTrust;
  readonly #keys: ReturnType<typeof createLocalJWKSet> | ReturnType<typeof createRemoteJWKSet> | undefined;

  constructor(trust: SoftwareStatementTrust) {
    this.#trust = trust;
    if (trust.jwks instanceof URL) this.#keys = createRemoteJWKSet(trust.jwks, { timeoutDuration: 5000 });
    else if (trust.jwks) this.#keys = createLocalJWKSet(trust.jwks as Parameters<typeof createLocalJWKSet>[0]);
  }

  /**
   * Applies the statement in `properties` (or, on an update, the one the client was registered with) to
   * `properties`. `registered` is the statement stored with the client, if any.
   */
  async apply(properties: Properties, registered: string | undefined): Promise<void> {
    const presented = properties.software_statement;
    if (presented !== undefined && typeof presented !== 'string')
      throw new errors.InvalidSoftwareStatement('software_statement must be a JWT string');
    const statement = presented ?? registered;
    if (statement === undefined) {
      if (this.#trust.required)
        throw new errors.InvalidSoftwareStatement(
          'a software_statement from a trusted directory is required to register',
        );
      return;
    }
    // The statement the client was registered with was verified then; it is not re-verified (it may have expired
    // since).
    const claims = statement === registered ? decodeJwt(statement) : await this.#verify(statement);
    if (registered !== undefined && statement !== registered) sameSoftware(decodeJwt(registered), claims);
    const reserved = Object.keys(claims).filter(reservedClaim);
    if (reserved.length) {
      throw new errors.InvalidSoftwareStatement(`software_statement must not set ${reserved.join(', ')}`);
    }
    for (const [name, value] of Object.entries(claims)) {
      if (REGISTRABLE.has(name)) properties[name] = value;
    }
    properties.software_statement = statement;
  }

  async #verify(statement: string): Promise<JWTPayload> {
    if (!this.#keys) throw new errors.UnapprovedSoftwareStatement('this server trusts no software statement issuer');
    try {
      const { payload } = await jwtVerify(statement, this.#keys, {
        algorithms: [...SIGNING_ALGS],
        requiredClaims: ['iss', 'iat'],
        ...(this.#trust.issuer ? { issuer: this.#trust.issuer } : {}),
        clockTolerance: CLOCK_TOLERANCE,
      });
      // `iat` is a required claim (above).
      if ((payload.iat ?? 0) > Date.now() / 1000 + CLOCK_TOLERANCE) {
        throw new errors.InvalidSoftwareStatement('software_statement is issued in the future');
      }
      return payload;
    } catch (err) {
      if (err instanceof errors.OIDCProviderError) throw err;
      if (err instanceof joseErrors.JWKSNoMatchingKey)
        throw new errors.UnapprovedSoftwareStatement('software_statement is not signed by a trusted directory key');
      if (err instanceof joseErrors.JWTExpired)
        throw new errors.InvalidSoftwareStatement('software_statement has expired');
      if (err instanceof joseErrors.JOSEAlgNotAllowed)
        throw new errors.InvalidSoftwareStatement('software_statement must be signed with PS256, ES256 or EdDSA');
      if (err instanceof joseErrors.JOSEError)
        throw new errors.InvalidSoftwareStatement(`software_statement is invalid (${err.message})`);
      throw err;
    }
  }
}

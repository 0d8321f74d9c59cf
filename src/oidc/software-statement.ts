import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { errors } from 'oidc-provider';
import type { SoftwareStatementTrust } from '../config/env.ts';
import { SIGNING_ALGS } from './keys.ts';

/** JWT claims that describe the statement itself, not the client (RFC 7519 4.1). */
const JWT_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

type Properties = Record<string, unknown>;

/**
 * RFC 7591 2.3 software statements: a JWT from a directory the operator trusts, whose claims are client metadata.
 * At registration the statement's claims are applied over the request's (3.1.1: they take precedence), so a
 * client cannot override what its directory asserted; on an RFC 7592 update they are applied again.
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
    if (presented !== undefined && typeof presented !== 'string') throw new errors.InvalidSoftwareStatement('software_statement must be a JWT string');
    const statement = presented ?? registered;
    if (statement === undefined) {
      if (this.#trust.required) throw new errors.InvalidSoftwareStatement('a software_statement from a trusted directory is required to register');
      return;
    }
    // The statement the client was registered with was verified then; it is not re-verified (it may have expired since).
    const claims = statement === registered ? decodeJwt(statement) : await this.#verify(statement);
    for (const [name, value] of Object.entries(claims)) {
      if (!JWT_CLAIMS.has(name)) properties[name] = value;
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
        clockTolerance: 5,
      });
      if (payload.iat! > Date.now() / 1000 + 5) throw new errors.InvalidSoftwareStatement('software_statement is issued in the future');
      return payload;
    } catch (err) {
      if (err instanceof errors.OIDCProviderError) throw err;
      if (err instanceof joseErrors.JWKSNoMatchingKey) throw new errors.UnapprovedSoftwareStatement('software_statement is not signed by a trusted directory key');
      if (err instanceof joseErrors.JWTExpired) throw new errors.InvalidSoftwareStatement('software_statement has expired');
      if (err instanceof joseErrors.JOSEAlgNotAllowed) throw new errors.InvalidSoftwareStatement('software_statement must be signed with PS256, ES256 or EdDSA');
      if (err instanceof joseErrors.JOSEError) throw new errors.InvalidSoftwareStatement(`software_statement is invalid (${err.message})`);
      throw err;
    }
  }
}

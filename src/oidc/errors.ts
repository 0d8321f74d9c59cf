import { errors } from 'oidc-provider';

/**
 * Kluis's own protocol errors, typed and carrying their OAuth error code, rendered by oidc-provider's
 * error handlers like its own.
 */

/** Postgres is unreachable: RFC 6749 4.1.2.1 `temporarily_unavailable`, HTTP 503. */
export class TemporarilyUnavailable extends errors.CustomOIDCProviderError {
  constructor(options?: { cause?: unknown }) {
    super('temporarily_unavailable', 'the service is temporarily unavailable, retry shortly', options);
    this.status = 503;
    this.statusCode = 503;
    // oidc-provider hides the error of any status >= 500 behind `server_error`; this one is safe to show.
    this.expose = true;
    this.allow_redirect = true;
  }
}

/** A code, device code or refresh token was already redeemed by a concurrent request (RFC 6749 4.1.2, 10.5). */
export class AlreadyConsumed extends errors.InvalidGrant {
  constructor(model: string) {
    super(`${model} already consumed`);
  }
}

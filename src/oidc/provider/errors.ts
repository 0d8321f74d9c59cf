import { errors } from 'oidc-provider';
import { DatabaseUnavailable, RowAlreadyConsumed, UnstorableInput } from '../../db/errors.ts';

/**
 * Kluis's own protocol errors, typed and carrying their OAuth error code, rendered by oidc-provider's
 * error handlers like its own.
 */

/**
 * Postgres is unreachable: RFC 6749 4.1.2.1 `temporarily_unavailable`, HTTP 503. Named apart from oidc-provider's
 * own `errors.TemporarilyUnavailable`, which answers 400.
 */
export class StorageUnavailable extends errors.CustomOIDCProviderError {
  constructor(options?: { cause?: unknown }) {
    super('temporarily_unavailable', 'the service is temporarily unavailable, retry shortly', options);
    this.status = 503;
    this.statusCode = 503;
    // oidc-provider hides the error of any status >= 500 behind `server_error`; this one is safe to show.
    this.expose = true;
    this.allow_redirect = true;
  }
}

/**
 * The one mapping of storage errors to protocol errors, for every database call made on oidc-provider's behalf (its
 * adapter, account, grant or resource server lookups): an outage becomes `temporarily_unavailable` (503) instead of
 * the `server_error` (500) oidc-provider makes of any other error. Other errors are given back as they are.
 */
export function protocolError(err: unknown): unknown {
  if (err instanceof DatabaseUnavailable) return new StorageUnavailable({ cause: err });
  if (err instanceof UnstorableInput) return new errors.InvalidRequest(err.message);
  if (err instanceof RowAlreadyConsumed) return new AlreadyConsumed(err.model);
  return err;
}

/** Runs a database call made on oidc-provider's behalf, its storage errors mapped by {@link protocolError}. */
export async function unlessUnavailable<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw protocolError(err);
  }
}

/** A code, device code or refresh token was already redeemed by a concurrent request (RFC 6749 4.1.2, 10.5). */
export class AlreadyConsumed extends errors.InvalidGrant {
  constructor(model: string) {
    super(`${model} already consumed`);
  }
}

/** A registration's redirect URI breaks Kluis's rules (RFC 7591 3.2.2 `invalid_redirect_uri`). */
export class InvalidRedirectUriMetadata extends errors.CustomOIDCProviderError {
  constructor(description: string) {
    super('invalid_redirect_uri', description);
  }
}

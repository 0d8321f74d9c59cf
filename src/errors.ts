/**
 * Kluis's one error model, in the spirit of panva/jose's error codes: every error Kluis raises on purpose carries a
 * stable `code` callers can switch on, the HTTP `status` it answers with, and whether its message may be shown to
 * whoever caused it (an operator at the CLI, a person on a page, a client in a JSON body). Anything else that is
 * thrown is a bug: logged with its stack and answered with only a request id.
 *
 * oidc-provider's own error classes stay as they are on the protocol endpoints (its error handler renders them);
 * Kluis's protocol errors extend those (see oidc/provider/errors.ts).
 */
export abstract class KluisError extends Error {
  /** Stable, machine-readable: `ERR_CONFIG`, `ERR_CONSENT_NOT_FOUND`, … */
  abstract readonly code: string;
  /** The HTTP status this error answers with where it reaches a response. */
  readonly status: number = 500;
  /** The message is written for the person who caused the error and reveals nothing they may not know. */
  readonly expose: boolean = true;
}

/** The one check that decides what an operator or caller sees: the message of an exposable Kluis error, else nothing. */
export function shownMessage(err: unknown): string | undefined {
  return err instanceof KluisError && err.expose ? err.message : undefined;
}

import { KluisError } from '../errors.ts';
/**
 * Postgres could not be reached (down, restarting, refusing connections). Callers turn this into 503:
 * the request may be retried, and nothing was half-done because every write is one statement or one transaction.
 */
export class DatabaseUnavailable extends KluisError {
  override name = 'DatabaseUnavailable';
  readonly code = 'ERR_DATABASE_UNAVAILABLE';
  override readonly status = 503;
}

// SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, cannot connect now).
const CONNECTION_SQLSTATE = /^(08|57P)/;
const CONNECTION_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  // Over a Unix socket (the embedded server's): the socket file goes with the server that stopped.
  'ENOENT',
]);
// What pg and Postgres say when a connection failed, for errors whose code does not tell.
const CONNECTION_MESSAGE = new RegExp(
  [
    'Connection terminated',
    'connection timeout',
    'timeout exceeded when trying to connect',
    'Client has encountered a connection error',
    'the database system is (starting up|shutting down)',
  ].join('|'),
  'i',
);

export function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_SQLSTATE.test(code) || CONNECTION_ERRNO.has(code))) return true;
  if (err instanceof AggregateError) return err.errors.some(isConnectionFailure);
  return CONNECTION_MESSAGE.test(err.message);
}

/**
 * Input Postgres cannot store as text: a NUL character (U+0000) or an invalid byte sequence. It can only come from a
 * request (no protocol value may contain control characters, RFC 6749 Appendix A), so callers answer 400.
 */
export class UnstorableInput extends KluisError {
  override name = 'UnstorableInput';
  readonly code = 'ERR_UNSTORABLE_INPUT';
  override readonly status = 400;
}

/**
 * Throws {@link UnstorableInput} when `value` holds a string Postgres would refuse (a NUL, a lone surrogate), checked
 * before a write joins a batch: one such value must not fail the statement it would share with other requests'
 * writes (and make them all be retried one by one).
 */
export function assertStorable(value: unknown): void {
  if (typeof value === 'string') {
    if (value.includes('\u0000') || !value.isWellFormed())
      throw new UnstorableInput('the request contains characters that are not allowed (such as NUL)');
  } else if (Array.isArray(value)) {
    for (const item of value) assertStorable(item);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      assertStorable(key);
      assertStorable(item);
    }
  }
}

// 22021: character not in repertoire (NUL in text); 22P05: untranslatable character (\u0000 in jsonb); 22P02 for
// json: invalid input syntax, here a lone surrogate (\ud800), which JSON.stringify writes as an escape jsonb refuses.
// Other 22P02s (a malformed uuid or number) are Kluis's own mistakes and stay 500s.
export function isUnstorableText(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (code === '22P02') return typeof message === 'string' && /\btype json\b/.test(message);
  return code === '22021' || code === '22P05';
}

/**
 * A row with that key already exists (SQLSTATE 23505). `constraint` names the unique index, so a caller can tell
 * which value was taken (a username, an email, a resource identifier) and say so.
 */
export class UniqueViolation extends KluisError {
  override name = 'UniqueViolation';
  readonly code = 'ERR_UNIQUE_VIOLATION';
  override readonly status = 409;
  readonly constraint: string | undefined;
  constructor(constraint: string | undefined, options?: { cause?: unknown }) {
    super(`already exists${constraint ? ` (${constraint})` : ''}`, options);
    this.constraint = constraint;
  }
}

export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23505' && !(err instanceof KluisError);
}

/**
 * A code, token or request could not be consumed: a concurrent redemption consumed it first, or it is gone or
 * expired. Storage knows only that the row was not there to consume; the protocol answers `invalid_grant`
 * (RFC 6749 4.1.2, 10.5).
 */
export class RowAlreadyConsumed extends KluisError {
  override name = 'RowAlreadyConsumed';
  readonly code = 'ERR_ALREADY_CONSUMED';
  override readonly status = 400;
  readonly model: string;
  constructor(model: string) {
    super(`${model} already consumed`);
    this.model = model;
  }
}

import { KluisError } from '../errors.ts';

/** A configuration mistake: the message names the variable and what it expects. */
export class ConfigError extends KluisError {
  override name = 'ConfigError';
  readonly code = 'ERR_CONFIG';
  override readonly status = 500;
}

import { KluisError } from '../errors.ts';

export class UserNotFound extends KluisError {
  override name = 'UserNotFound';
  readonly code = 'ERR_USER_NOT_FOUND';
  override readonly status = 404;
  constructor(username: string) {
    super(`no user ${username}`);
  }
}

export class UserExists extends KluisError {
  override name = 'UserExists';
  readonly code = 'ERR_USER_EXISTS';
  override readonly status = 409;
}

/** The username belonged to an erased account and is held back (USERNAME_QUARANTINE) so nobody takes it over. */
export class UsernameRetired extends KluisError {
  override name = 'UsernameRetired';
  readonly code = 'ERR_USERNAME_RETIRED';
  override readonly status = 409;
}

/** A username, email or password Kluis does not accept; the message says which rule. */
export class InvalidPerson extends KluisError {
  override name = 'InvalidPerson';
  readonly code = 'ERR_INVALID_PERSON';
  override readonly status = 400;
}

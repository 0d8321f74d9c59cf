import { KluisError } from '../errors.ts';

export class ClientNotFound extends KluisError {
  override name = 'ClientNotFound';
  readonly code = 'ERR_CLIENT_NOT_FOUND';
  override readonly status = 404;
  constructor(clientId: string) {
    super(`no client with id ${clientId}`);
  }
}

export class ClientExists extends KluisError {
  override name = 'ClientExists';
  readonly code = 'ERR_CLIENT_EXISTS';
  override readonly status = 409;
  constructor(clientId: string) {
    super(`a client with id ${clientId} already exists`);
  }
}

/** Kluis writes its own clients (the account area's, the demo's) at every start; nobody else may. */
export class ReservedClient extends KluisError {
  override name = 'ReservedClient';
  readonly code = 'ERR_CLIENT_RESERVED';
  override readonly status = 409;
}

/** Metadata oidc-provider or Kluis's client policy refuses; the message names the rule (RFC 7591 3.2.2 wording). */
export class InvalidMetadata extends KluisError {
  override name = 'InvalidMetadata';
  readonly code = 'ERR_INVALID_METADATA';
  override readonly status = 400;
}

export class ClientWithoutSecret extends KluisError {
  override name = 'ClientWithoutSecret';
  readonly code = 'ERR_CLIENT_WITHOUT_SECRET';
  override readonly status = 409;
}

export class InvalidResourceServer extends KluisError {
  override name = 'InvalidResourceServer';
  readonly code = 'ERR_INVALID_RESOURCE_SERVER';
  override readonly status = 400;
}

export class ResourceServerExists extends KluisError {
  override name = 'ResourceServerExists';
  readonly code = 'ERR_RESOURCE_SERVER_EXISTS';
  override readonly status = 409;
  constructor(identifier: string) {
    super(`resource server ${identifier} already exists`);
  }
}

export class ResourceServerNotFound extends KluisError {
  override name = 'ResourceServerNotFound';
  readonly code = 'ERR_RESOURCE_SERVER_NOT_FOUND';
  override readonly status = 404;
  constructor(identifier: string) {
    super(`no resource server ${identifier}`);
  }
}

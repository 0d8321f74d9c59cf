import { ACCESS_TOKEN_TTL_BOUNDS, isSigningAlg } from '../config/protocol-constants.ts';
import type { Database } from '../db/database.ts';
import { UniqueViolation } from '../db/errors.ts';
import {
  addResourceServer as insertResourceServer,
  listResourceServers as selectResourceServers,
  removeResourceServer as deleteResourceServer,
  type ResourceServerRecord,
} from '../db/resource-servers.ts';
import { InvalidResourceServer, ResourceServerExists, ResourceServerNotFound } from './errors.ts';

export interface NewResourceServer {
  identifier: string;
  scope: string;
  /** jwt unless given. */
  accessTokenFormat?: string | undefined;
  /** ES256 unless given. */
  signingAlg?: string | undefined;
  /** The server's ACCESS_TOKEN_TTL / JWT_ACCESS_TOKEN_TTL unless given. */
  accessTokenTtl?: number | undefined;
}

const SCOPE_LIST = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;

/** Registers an API that clients name with a resource indicator (RFC 8707). */
export async function addResourceServer(
  { db }: { db: Database },
  input: NewResourceServer,
): Promise<ResourceServerRecord> {
  const { identifier } = input;
  let url: URL;
  try {
    url = new URL(identifier);
  } catch {
    throw new InvalidResourceServer(
      `resource identifier must be an absolute URI (RFC 8707 2), got ${JSON.stringify(identifier)}`,
    );
  }
  if (url.hash) throw new InvalidResourceServer('resource identifier must not contain a fragment (RFC 8707 2)');
  const scope = input.scope.trim();
  if (!SCOPE_LIST.test(scope)) {
    throw new InvalidResourceServer('scope must list the space-separated scopes this API accepts (RFC 6749 3.3)');
  }
  const format = input.accessTokenFormat ?? 'jwt';
  if (format !== 'jwt' && format !== 'opaque')
    throw new InvalidResourceServer('the access token format must be jwt or opaque');
  const alg = input.signingAlg ?? 'ES256';
  if (!isSigningAlg(alg)) throw new InvalidResourceServer('the signing algorithm must be ES256, PS256 or EdDSA');
  const ttl = input.accessTokenTtl ?? null;
  const { min, max } = ACCESS_TOKEN_TTL_BOUNDS;
  if (ttl !== null && (!Number.isInteger(ttl) || ttl < min || ttl > max)) {
    throw new InvalidResourceServer(
      `the access token lifetime must be a whole number of seconds between ${min} and ${max}`,
    );
  }
  const record: ResourceServerRecord = {
    identifier,
    scope,
    accessTokenFormat: format,
    signingAlg: alg,
    accessTokenTtl: ttl,
  };
  try {
    await insertResourceServer(db, record);
  } catch (err) {
    if (err instanceof UniqueViolation) throw new ResourceServerExists(identifier);
    throw err;
  }
  return record;
}

export function listResourceServers({ db }: { db: Database }): Promise<ResourceServerRecord[]> {
  return selectResourceServers(db);
}

export async function removeResourceServer({ db }: { db: Database }, identifier: string): Promise<{ removed: string }> {
  if (!(await deleteResourceServer(db, identifier))) throw new ResourceServerNotFound(identifier);
  return { removed: identifier };
}

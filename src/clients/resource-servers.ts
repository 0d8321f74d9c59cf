import { ACCESS_TOKEN_TTL_BOUNDS, isSigningAlg } from '../config/protocol-constants.ts';
import type { Database, Queryable } from '../db/database.ts';
import { UniqueViolation } from '../db/errors.ts';
import {
  addResourceServer as insertResourceServer,
  findResourceServers,
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
  /** What the consent page calls the API, e.g. "Payments API". */
  title?: string | undefined;
  /** What the API lets an app do, e.g. "Make payments from your accounts"; only with a title. */
  description?: string | undefined;
}

/** How the consent page names an API the app asks for (a resource indicator, RFC 8707). */
export interface ResourceServerTitle {
  title: string;
  description?: string;
}

/**
 * Text a person reads on the consent page, so nothing that is not shown as what it is: controls, formatting (bidi
 * overrides, zero-width joiners), line and paragraph separators, lone surrogates.
 */
const UNSHOWN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/v;
const TEXT_LIMITS = { title: 80, description: 200 } as const;

function shownText(field: keyof typeof TEXT_LIMITS, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const max = TEXT_LIMITS[field];
  if (text.length === 0 || text.length > max || UNSHOWN.test(text)) {
    throw new InvalidResourceServer(
      `the ${field} must be 1 to ${max} characters of plain text, without control or formatting characters`,
    );
  }
  return text;
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
  const title = shownText('title', input.title);
  const description = shownText('description', input.description);
  if (description !== undefined && title === undefined) {
    throw new InvalidResourceServer('a description needs a title: the consent page shows the title first');
  }
  const record: ResourceServerRecord = {
    identifier,
    scope,
    accessTokenFormat: format,
    signingAlg: alg,
    accessTokenTtl: ttl,
    ...(title === undefined ? {} : { title }),
    ...(description === undefined ? {} : { description }),
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

/**
 * The titles and descriptions the operator gave the APIs that `identifiers` name (resource indicators, RFC 8707), by
 * identifier, for the consent page and the account area; an API that is not registered or has no title is absent.
 */
export async function findResourceServerTitles(
  { db }: { db: Queryable },
  identifiers: readonly string[],
): Promise<Map<string, ResourceServerTitle>> {
  const titles = new Map<string, ResourceServerTitle>();
  if (identifiers.length === 0) return titles;
  for (const server of await findResourceServers(db, identifiers)) {
    if (server.title === undefined) continue;
    titles.set(
      server.identifier,
      server.description === undefined
        ? { title: server.title }
        : { title: server.title, description: server.description },
    );
  }
  return titles;
}

export async function removeResourceServer({ db }: { db: Database }, identifier: string): Promise<{ removed: string }> {
  if (!(await deleteResourceServer(db, identifier))) throw new ResourceServerNotFound(identifier);
  return { removed: identifier };
}

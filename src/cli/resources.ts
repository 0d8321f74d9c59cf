import { addResourceServer, listResourceServers, removeResourceServer, type ResourceServerRecord } from '../db/resource-servers.ts';
import { CliError, type CliContext } from './context.ts';
import { UniqueViolation } from '../db/errors.ts';
import { ACCESS_TOKEN_TTL_BOUNDS, isSigningAlg } from '../config/protocol-constants.ts';

export interface ResourceOptions {
  scope?: string | undefined;
  format?: string | undefined;
  alg?: string | undefined;
  ttl?: string | undefined;
}

/** `resources add URI --scope "..."`: registers an API that clients name with a resource indicator (RFC 8707). */
export async function addResource(ctx: CliContext, identifier: string, options: ResourceOptions): Promise<ResourceServerRecord> {
  let url: URL;
  try {
    url = new URL(identifier);
  } catch {
    throw new CliError(`resource identifier must be an absolute URI (RFC 8707 2), got ${JSON.stringify(identifier)}`);
  }
  if (url.hash) throw new CliError('resource identifier must not contain a fragment (RFC 8707 2)');
  const scope = options.scope?.trim();
  if (!scope || !/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/.test(scope)) {
    throw new CliError('--scope must list the space-separated scopes this API accepts (RFC 6749 3.3)');
  }
  const format = options.format ?? 'jwt';
  if (format !== 'jwt' && format !== 'opaque') throw new CliError('--format must be jwt or opaque');
  const alg = options.alg ?? 'ES256';
  if (!isSigningAlg(alg)) throw new CliError('--alg must be ES256, PS256 or EdDSA');
  let ttl: number | null = null;
  if (options.ttl !== undefined) {
    ttl = Number(options.ttl);
    const { min, max } = ACCESS_TOKEN_TTL_BOUNDS;
    if (!Number.isInteger(ttl) || ttl < min || ttl > max) throw new CliError(`--ttl must be a whole number of seconds between ${min} and ${max}`);
  }
  const record: ResourceServerRecord = { identifier, scope, accessTokenFormat: format, signingAlg: alg, accessTokenTtl: ttl };
  try {
    await addResourceServer(ctx.db, record);
  } catch (err) {
    if (err instanceof UniqueViolation) throw new CliError(`resource server ${identifier} already exists`);
    throw err;
  }
  return record;
}

export function listResources(ctx: CliContext) {
  return listResourceServers(ctx.db);
}

export async function removeResource(ctx: CliContext, identifier: string): Promise<void> {
  if (!(await removeResourceServer(ctx.db, identifier))) throw new CliError(`no resource server ${identifier}`);
}

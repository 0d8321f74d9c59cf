import { errors, type Configuration } from 'oidc-provider';
import type { Config } from '../../../config/env.ts';
import type { CacheView } from '../../../db/change-cache.ts';
import type { Database } from '../../../db/database.ts';
import { findResourceServer, type ResourceServerRecord } from '../../../db/resource-servers.ts';
import { unlessUnavailable } from '../errors.ts';
import { accessTokenCeiling } from './lifetimes.ts';

/** RFC 8707 resource indicators: access tokens for the registered resource servers (APIs), each with its own rules. */
export function resources(
  config: Pick<Config, 'accessTokenTtl' | 'jwtAccessTokenTtl'>,
  db: Database,
  cache: CacheView<ResourceServerRecord> | undefined,
): Configuration {
  const ceiling = accessTokenCeiling(config);
  return {
    features: {
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        async getResourceServerInfo(_ctx, resourceIndicator, client) {
          const server = await unlessUnavailable(cachedResourceServer(db, cache, resourceIndicator));
          if (!server) throw new errors.InvalidTarget('resource indicator is not registered');
          // A client receives a resource server's scope only where its own `scope` metadata lists it.
          const allowed = new Set((client.scope ?? '').split(' '));
          const ttl = ceiling(server.accessTokenFormat);
          return {
            scope: server.scope
              .split(' ')
              .filter((scope) => allowed.has(scope))
              .join(' '),
            audience: server.identifier,
            accessTokenTTL: Math.min(server.accessTokenTtl ?? ttl, ttl),
            accessTokenFormat: server.accessTokenFormat,
            ...(server.accessTokenFormat === 'jwt' ? { jwt: { sign: { alg: server.signingAlg } } } : {}),
          };
        },
      },
    },
  };
}

/**
 * A token request naming a resource reads its resource server from the server's cache; a change through the CLI
 * reaches every process by NOTIFY (migration 0011). The CLI has no cache and reads the table.
 */
async function cachedResourceServer(
  db: Database,
  cache: CacheView<ResourceServerRecord> | undefined,
  identifier: string,
): Promise<ResourceServerRecord | undefined> {
  const cached = cache?.get(identifier);
  if (cached) return cached.value;
  const generation = cache?.generation(identifier) ?? 0;
  const server = await findResourceServer(db, identifier);
  cache?.set(identifier, server, generation);
  return server;
}

import { readFileSync, writeFileSync } from 'node:fs';
import Provider, { type ClientMetadata, type JWK } from 'oidc-provider';

/**
 * The ceiling: bare oidc-provider (the version Kluis runs) with its in-memory adapter and the same keys, client,
 * API and token settings as Kluis, no Kluis middleware, no database. Started by bench/run.ts with a settings file;
 * writes refresh tokens minted at start (one per load connection) to `out` and prints "ceiling listening".
 */
interface Settings {
  issuer: string;
  port: number;
  jwks: { keys: JWK[] };
  client: ClientMetadata;
  api: { identifier: string; scope: string; ttl: number };
  accessTokenTtl: number;
  refreshTokens: number;
  out: string;
}

const settings = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Settings;

const provider = new Provider(settings.issuer, {
  clients: [settings.client],
  jwks: settings.jwks,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: settings.api.scope,
        audience: settings.api.identifier,
        accessTokenTTL: settings.api.ttl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  scopes: ['openid', 'offline_access', settings.api.scope],
  responseTypes: ['code'],
  pkce: { required: () => true },
  rotateRefreshToken: () => true,
  ttl: { AccessToken: settings.accessTokenTtl, ClientCredentials: settings.accessTokenTtl, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 30 * 86400, Grant: 180 * 86400 },
  enabledJWA: { idTokenSigningAlgValues: ['ES256', 'PS256', 'EdDSA'] },
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
});

const client = await provider.Client.find(String(settings.client.client_id));
const refreshTokens: string[] = [];
for (let i = 0; i < settings.refreshTokens; i += 1) {
  const accountId = `bench-account-${i}`;
  const grant = new provider.Grant({ accountId, clientId: client!.clientId });
  grant.addOIDCScope('openid offline_access');
  const grantId = await grant.save();
  const token = new provider.RefreshToken({ client: client!, accountId, grantId, scope: 'openid offline_access', gty: 'authorization_code', authTime: Math.floor(Date.now() / 1000) } as never);
  refreshTokens.push(await token.save());
}
writeFileSync(settings.out, JSON.stringify({ refreshTokens }));

provider.listen(settings.port, () => process.stdout.write('ceiling listening\n'));

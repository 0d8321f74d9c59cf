import { readFileSync, writeFileSync } from 'node:fs';
import Provider, { type Adapter, type AdapterPayload, type ClientMetadata, type JWK } from 'oidc-provider';
import { loadConfig } from '../src/config/env.ts';
import { edge } from '../src/http/app.ts';
import { Pages } from '../src/web/render.ts';
import { Metrics } from '../src/http/metrics.ts';
import { createLogger } from '../src/log/logger.ts';

/**
 * The ceiling: bare oidc-provider (the version Kluis runs) with in-memory storage and the same keys, client,
 * API and token settings as Kluis, no Kluis middleware, no database. Started by bench/run.ts with a settings file;
 * writes refresh tokens minted at start (one per load connection) to `out` and prints "ceiling listening".
 * With `edge`, Kluis's own edge (http/app.ts: proxy trust, canonical host, request id, access log, metrics, security
 * headers, error boundary) runs in front, configured as the bench configures Kluis: what that edge costs per
 * request, apart from storage, is the difference between the two ceilings.
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
  edge?: boolean;
}

const settings = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Settings;

/**
 * oidc-provider's own memory adapter is an LRU of 1000 entries: the client-credentials scenarios evict the refresh
 * tokens minted at start long before the refresh scenario runs, and the ceiling then answers invalid_grant. This one
 * keeps every entry until it expires, as Postgres does for Kluis; a sweep drops expired entries so memory stays level.
 */
const entries = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
}, 5000).unref();

class UnboundedMemoryAdapter implements Adapter {
  private readonly model: string;

  constructor(model: string) {
    this.model = model;
  }

  private key(id: string): string {
    return `${this.model}:${id}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    entries.set(this.key(id), { payload, expiresAt: Date.now() + expiresIn * 1000 });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const entry = entries.get(this.key(id));
    return entry && entry.expiresAt > Date.now() ? entry.payload : undefined;
  }

  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  async findByUid(): Promise<undefined> {
    return undefined;
  }

  async consume(id: string): Promise<void> {
    const entry = entries.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    entries.delete(this.key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const [key, entry] of entries) if (entry.payload.grantId === grantId) entries.delete(key);
  }
}

const provider = new Provider(settings.issuer, {
  adapter: UnboundedMemoryAdapter,
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
  ttl: {
    AccessToken: settings.accessTokenTtl,
    ClientCredentials: settings.accessTokenTtl,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 30 * 86400,
    Grant: 180 * 86400,
  },
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
  const token = new provider.RefreshToken({
    client: client!,
    accountId,
    grantId,
    scope: 'openid offline_access',
    gty: 'authorization_code',
    authTime: Math.floor(Date.now() / 1000),
  } as never);
  refreshTokens.push(await token.save());
}
writeFileSync(settings.out, JSON.stringify({ refreshTokens }));

if (settings.edge) {
  const config = loadConfig({ ISSUER: settings.issuer, PORT: String(settings.port), LOG_LEVEL: 'warn' });
  const pages = new Pages(config.brand, { showDetail: false });
  const layer = edge({ config, log: createLogger(config.logLevel), metrics: new Metrics(), pages });
  // First in the app's middleware, as ProviderHost.serve puts Kluis's pipeline.
  provider.middleware.unshift(layer);
}

provider.listen(settings.port, () => process.stdout.write('ceiling listening\n'));

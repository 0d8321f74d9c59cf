import type { Configuration } from 'oidc-provider';
import type { Config } from '../../../config/env.ts';
import { postgresAdapter } from '../../../db/oidc-adapter.ts';
import type { NewClients } from '../../clients/registration.ts';
import { providerAdapters } from '../adapter.ts';
import type { ProviderSettings } from './settings.ts';

type EngineSettings = Pick<ProviderSettings, 'db' | 'secrets' | 'keys' | 'cache' | 'onSave' | 'batches'> & {
  config: Pick<Config, 'production'>;
};

/** What oidc-provider runs on: storage in Postgres, the signing keys, its cookies. */
export function engine(settings: EngineSettings, newClients: NewClients): Configuration {
  const { config, db, secrets, keys, cache, onSave, batches } = settings;
  const storage = postgresAdapter(db, secrets.box, { cache: cache?.clients, onSave, batches });
  return {
    adapter: providerAdapters(newClients.adapters(storage)),
    jwks: keys.jwks as Configuration['jwks'],
    cookies: {
      keys: secrets.cookieKeys,
      // Over https the session cookie gets the __Host- prefix (Secure, Path=/, no Domain). Interaction cookies are
      // path-scoped by oidc-provider, which __Host- forbids, so they get __Secure- (RFC 6265bis 4.1.3).
      names: config.production
        ? {
            session: '__Host-kluis.session',
            interaction: '__Secure-kluis.interaction',
            resume: '__Secure-kluis.resume',
          }
        : { session: 'kluis.session', interaction: 'kluis.interaction', resume: 'kluis.resume' },
      long: { httpOnly: true, sameSite: 'lax', secure: config.production },
      short: { httpOnly: true, sameSite: 'lax', secure: config.production },
    },
  };
}

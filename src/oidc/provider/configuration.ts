import type { Configuration } from 'oidc-provider';
import { clients } from '../clients/configuration.ts';
import { NewClients } from '../clients/registration.ts';
import { fapi } from '../fapi/configuration.ts';
import { accountFinder } from '../subjects/claims.ts';
import { subjects } from '../subjects/configuration.ts';
import { algorithms } from './configuration/algorithms.ts';
import { authorization } from './configuration/authorization.ts';
import { engine } from './configuration/engine.ts';
import { grants } from './configuration/grants.ts';
import { lifetimes } from './configuration/lifetimes.ts';
import { pages } from './configuration/pages.ts';
import { resources } from './configuration/resources.ts';
import type { ProviderSettings } from './configuration/settings.ts';
import { tokens } from './configuration/tokens.ts';

/** oidc-provider's configuration, strict by default (RFC 9700, FAPI 2.0 SP 5), assembled from one slice per feature. */
export function providerConfiguration(settings: ProviderSettings): Configuration {
  const { config, db, secrets } = settings;
  const findAccount = accountFinder(settings.accounts);
  // Shared by storage and registration: registrations under way are written with an insert, never an upsert.
  const newClients = new NewClients();
  return assembleSlices([
    engine(settings, newClients),
    authorization(config, settings.resourceScopes),
    subjects(secrets, findAccount),
    clients(config, db, secrets.box, newClients),
    algorithms(),
    lifetimes(config),
    fapi(config, secrets),
    tokens(findAccount),
    resources(config, db, settings.cache?.resourceServers),
    grants(db),
    pages(settings.pages),
  ]);
}

/** The slices as one configuration. A setting or feature configured by two slices is a bug: one would be lost. */
export function assembleSlices(slices: Configuration[]): Configuration {
  const seen = new Set<string>();
  const claim = (key: string) => {
    if (seen.has(key)) throw new Error(`${key} is configured by two slices`);
    seen.add(key);
  };
  const assembled: Record<string, unknown> = {};
  const features: Record<string, unknown> = {};
  for (const { features: more = {}, ...settings } of slices) {
    for (const key of Object.keys(settings)) claim(key);
    for (const key of Object.keys(more)) claim(`features.${key}`);
    Object.assign(assembled, settings);
    Object.assign(features, more);
  }
  return { ...assembled, features } as Configuration;
}

import { randomBytes } from 'node:crypto';
import type { AdapterPayload } from 'oidc-provider';
import type { AuditLog } from '../audit/writer.ts';
import { issueActivationCode } from '../auth/activation-codes.ts';
import { DEMO_CLIENT_ID } from '../clients/kluis-clients.ts';
import type { Config } from '../config/env.ts';
import type { AccountStore } from '../db/account-store.ts';
import type { Database } from '../db/database.ts';
import { writeManagedClient } from '../oidc/clients/managed-clients.ts';
import type { ProviderHost } from '../oidc/provider/host.ts';
import { addPerson } from '../people/add.ts';
import { UserExists } from '../people/errors.ts';
import { sealedValue, type ServerSecrets } from '../secrets/server-secrets.ts';

export const DEMO_USERNAME = 'demo';

/** What a newcomer needs to try the flow, printed at start. */
export interface DemoSetup {
  username: string;
  password: string;
  /**
   * A fresh activation code (replacing the last) while the demo person has no authenticator, else undefined. Called
   * by whoever prints the banner, once per start: with several workers only the first one does.
   */
  activationCode(): Promise<string | undefined>;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** The demo relying party's start page. */
  startUrl: string;
}

interface SeedDependencies {
  config: Pick<Config, 'issuer' | 'sca' | 'brand'>;
  db: Database;
  accounts: AccountStore;
  secrets: ServerSecrets;
  host: ProviderHost;
  audit: AuditLog;
}

/**
 * Development only (DEMO): makes sure a demo person and a demo client exist. The password is random per database
 * and kept encrypted, so it can be printed at every start without being a well-known default; the client is
 * rewritten at every start so its redirect URI follows ISSUER.
 */
export async function seedDemo({ config, db, accounts, secrets, host, audit }: SeedDependencies): Promise<DemoSetup> {
  const password = await sealedValue(db, secrets.box, 'demo_password', () => randomBytes(12).toString('base64url'));
  const personId = await ensureDemoPerson({ db, accounts, secrets, audit, config }, password);
  // Enrolment needs an activation code, for the demo person as for anyone (the password alone never enrols an
  // authenticator); only its hash is stored, so each start prints a new one.
  const activationCode = async () => {
    const person = await accounts.findById(personId);
    if (!person || person.totpSecretEncrypted) return undefined;
    return (await issueActivationCode(accounts, secrets.box, personId, config.sca.activationCodeTtl)).code;
  };

  const clientSecret = await sealedValue(db, secrets.box, 'demo_client_secret', () =>
    randomBytes(32).toString('base64url'),
  );
  const redirectUri = `${config.issuer}/demo/callback`;
  const metadata: AdapterPayload = {
    client_id: DEMO_CLIENT_ID,
    client_secret: clientSecret,
    client_name: 'Kluis demo app',
    client_uri: `${config.issuer}/demo`,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email',
  };
  const created = await writeManagedClient(host, db, secrets.box, metadata);
  if (created) {
    await audit.record({
      type: 'client.created',
      actor: 'system',
      clientId: DEMO_CLIENT_ID,
      details: { demo: true, grant_types: ['authorization_code'], auth_method: 'client_secret_basic' },
    });
  }

  return {
    username: DEMO_USERNAME,
    password,
    activationCode,
    clientId: DEMO_CLIENT_ID,
    clientSecret,
    redirectUri,
    startUrl: `${config.issuer}/demo`,
  };
}

/** The demo person's account id, added now (as `kluis users add` adds anyone) if missing. */
async function ensureDemoPerson(deps: Omit<SeedDependencies, 'host'>, password: string): Promise<string> {
  const existing = await deps.accounts.findByUsername(DEMO_USERNAME);
  if (existing) return existing.id;
  const person = {
    username: DEMO_USERNAME,
    password,
    email: 'demo@example.com',
    name: 'Demo Person',
    claims: { given_name: 'Demo', family_name: 'Person', locale: 'en' },
  };
  try {
    // No second factor yet: the first sign-in takes the activation code and enrols TOTP, as for a new customer.
    return (await addPerson(deps, person, { actor: 'system', details: { demo: true } })).id;
  } catch (err) {
    // Another process seeded it at the same moment.
    if (err instanceof UserExists) return (await deps.accounts.findByUsername(DEMO_USERNAME))!.id;
    throw err;
  }
}

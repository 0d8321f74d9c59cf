import { ConfigError } from '../config/env.ts';
import type { Queryable } from '../db/database.ts';
import { findDemoData } from '../db/demo-data.ts';
import { DEMO_CLIENT_ID } from '../clients/kluis-clients.ts';
import { DEMO_USERNAME } from './seed.ts';

/**
 * The demo person has a password printed at every development start and the demo client an http redirect URI: in
 * production (https issuer) neither may exist, even when a development database is reused. Kluis refuses to start
 * and says how to remove them.
 */
export async function refuseDemoDataInProduction(db: Queryable): Promise<void> {
  const found = await findDemoData(db, { username: DEMO_USERNAME, clientId: DEMO_CLIENT_ID });
  const what = [
    ...(found.person ? [{ name: `person ${DEMO_USERNAME}`, remove: `kluis users delete ${DEMO_USERNAME}` }] : []),
    ...(found.client ? [{ name: `client ${DEMO_CLIENT_ID}`, remove: `kluis clients remove ${DEMO_CLIENT_ID}` }] : []),
  ];
  if (what.length === 0) return;
  const names = what.map((w) => w.name).join(' and ');
  const commands = what.map((w) => `\`${w.remove}\``).join(' and ');
  throw new ConfigError(
    `this database holds the development demo's ${names}, refused when ISSUER is https (production): ` +
      `remove ${what.length > 1 ? 'them' : 'it'} with ${commands}, then start again`,
  );
}

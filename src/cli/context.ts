import { AuditLog } from '../audit/writer.ts';
import { type AccountStore, PgAccountStore } from '../db/account-store.ts';
import { PgAuditStore } from '../db/audit-chain.ts';
import { ConfigError, loadConfig, type Config } from '../config/env.ts';
import { rewrapLegacyRecoveryCodes } from '../auth/recovery-codes.ts';
import { hashLegacyBearerIds } from '../db/bearer-ids.ts';
import { connect, type Connection } from '../db/connect.ts';
import type { Database, Queryable } from '../db/database.ts';
import { recordedIssuer } from '../db/server-issuer.ts';
import { createLogger, logDestination, logFormat, type Logger } from '../log/logger.ts';
import { ensureSigningKeys } from '../oidc/provider/keys.ts';
import { loadServerSecrets, type ServerSecrets } from '../secrets/server-secrets.ts';
import { KluisError } from '../errors.ts';
import type { ClientDeps } from '../clients/deps.ts';
import { Consents } from '../consents/consents.ts';
import { ProviderHost } from '../oidc/provider/host.ts';
import type { PeopleDeps } from '../people/deps.ts';
import { providerPages } from '../web/provider-pages.ts';

/** A mistake at the command line or in its input: printed as one line, exit status 1. */
export class CliError extends KluisError {
  override name = 'CliError';
  readonly code = 'ERR_CLI_USAGE';
  override readonly status = 400;
}

export interface CliContext {
  config: Config;
  log: Logger;
  db: Database;
  accounts: AccountStore;
  secrets: ServerSecrets;
  audit: AuditLog;
  connection: Connection;
}

/**
 * The same configuration and database as the server: DATABASE_URL, or the embedded Postgres under
 * KLUIS_DATA_DIR (joined when a server is running on it, started and stopped again when not).
 * Pending migrations are applied first, as `npm start` does. Without ISSUER, the issuer is the one the server last
 * started with.
 */
export async function openContext(env: NodeJS.ProcessEnv = process.env): Promise<CliContext> {
  const given = loadConfig(env);
  // Logs go to stderr, so stdout carries only the command's output (JSON for scripts).
  const destination = await logDestination(logFormat(given.logFormat, process.stderr.isTTY === true), 2);
  const log = createLogger(given.logLevel === 'info' ? 'warn' : given.logLevel, destination);
  const connection = await connect(given, log);
  try {
    const config = await withServerIssuer(env, given, connection.db);
    const secrets = await loadServerSecrets(connection.db, config);
    await hashLegacyBearerIds(connection.db, secrets.box);
    await rewrapLegacyRecoveryCodes(connection.db, secrets.box);
    const audit = new AuditLog(new PgAuditStore(connection.db), log);
    for (const kid of await ensureSigningKeys(connection.db, secrets.box)) {
      await audit.record({ type: 'key.generated', actor: 'system', details: { kid } });
    }
    const accounts = new PgAccountStore(connection.db);
    return { config, log, db: connection.db, accounts, secrets, audit, connection };
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The configuration with the issuer the server recorded at its start (src/main.ts), when ISSUER is not set: the
 * CLI's provider (the rules client metadata is held to, the issuer of the logout tokens it sends) is then the running
 * server's. An https issuer brings production rules with it, so the rest of the environment must be the server's
 * too.
 */
async function withServerIssuer(env: NodeJS.ProcessEnv, config: Config, db: Queryable): Promise<Config> {
  if (env.ISSUER) return config;
  const issuer = await recordedIssuer(db);
  if (issuer === undefined || issuer === config.issuer) return config;
  try {
    return loadConfig({ ...env, ISSUER: issuer });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(`the server's issuer ${issuer} (from the database; ISSUER overrides it): ${err.message}`);
  }
}

/** oidc-provider as the server builds it: its Client class validates metadata, its Grants are people's consents. */
function providerHost(ctx: CliContext): Promise<ProviderHost> {
  return ProviderHost.create({ ...ctx, pages: providerPages(ctx.log) });
}

/** What the client commands need (src/clients/). */
export async function clientDeps(ctx: CliContext): Promise<ClientDeps> {
  const { provider } = await providerHost(ctx);
  return { db: ctx.db, box: ctx.secrets.box, audit: ctx.audit, provider, production: ctx.config.production };
}

/** What the commands about people need (src/people/). */
export async function peopleDeps(ctx: CliContext): Promise<PeopleDeps> {
  const consents = new Consents(ctx.db, ctx.secrets.box, await providerHost(ctx), ctx.audit, ctx.log);
  return { db: ctx.db, accounts: ctx.accounts, secrets: ctx.secrets, audit: ctx.audit, consents, config: ctx.config };
}

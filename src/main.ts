import { ConfigError, loadConfig } from './config/env.ts';
import { createLogger } from './log/logger.ts';
import { startKluis } from './kluis.ts';
import { MigrationError } from './db/migrate.ts';
import { EmbeddedPostgresError } from './db/embedded.ts';
import { DatabaseUnavailable } from './db/errors.ts';

// Composition only: configuration, logger, the server, and the signals that stop it.
let config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`kluis: configuration error: ${err.message}\n`);
  process.exit(1);
}

const log = createLogger(config.logLevel);
const kluis = await startKluis(config, log).catch((err: unknown) => {
  const known =
    err instanceof ConfigError || err instanceof MigrationError || err instanceof EmbeddedPostgresError || err instanceof DatabaseUnavailable;
  if (known) process.stderr.write(`kluis: ${(err as Error).message}\n`);
  else log.fatal({ err }, 'kluis could not start');
  process.exit(1);
});

if (kluis.demo) {
  const { startUrl, username, password } = kluis.demo;
  process.stdout.write(
    [
      '',
      'Kluis demo (development only; DEMO=off turns it off)',
      `  open        ${startUrl}`,
      `  username    ${username}`,
      `  password    ${password}`,
      '  The first sign-in enrols an authenticator app (any TOTP app: scan the QR code or type the secret).',
      `  Afterwards ${startUrl.replace(/\/demo$/, '/account')} shows the consent and lets you withdraw it.`,
      '',
    ].join('\n') + '\n',
  );
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining and shutting down');
    kluis.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}

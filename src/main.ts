import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config } from './config/env.ts';
import type { DemoSetup } from './demo/seed.ts';
import { shownMessage } from './errors.ts';
import { recordIssuer } from './db/server-issuer.ts';
import { startKluis } from './kluis.ts';
import { createLogger, logDestination, logFormat, type Logger } from './log/logger.ts';
import { superviseWorkers, workerCannotStart } from './workers.ts';

// Composition only: configuration, logger, the server (or its supervisor), and the signals that stop it.
let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`kluis: configuration error: ${err.message}\n`);
  process.exit(1);
}
// `auto` is decided here: whether stdout is a terminal is this process's, not the configuration's.
const log = createLogger(
  config.logLevel,
  await logDestination(logFormat(config.logFormat, process.stdout.isTTY === true)),
);

/**
 * The HTTP port held by another process (EADDRINUSE from listen) is the operator's to fix: said in one line, no stack.
 * (METRICS_PORT says so itself, http/metrics.ts.)
 */
function portInUse(err: unknown): string | undefined {
  if ((err as { code?: unknown }).code !== 'EADDRINUSE') return undefined;
  return `port ${config.port} is already in use; set PORT to another port or stop the process using it`;
}

const failedToStart = (err: unknown): never | Promise<never> => {
  const inUse = portInUse(err);
  // Every worker would find the port taken: the supervisor says so once and stops, rather than forking them again.
  if (inUse !== undefined && cluster.isWorker) return workerCannotStart(inUse);
  const shown = shownMessage(err) ?? inUse;
  if (shown !== undefined) process.stderr.write(`kluis: ${shown}\n`);
  else log.fatal({ err }, 'kluis could not start');
  process.exit(1);
};

if (config.workers > 1 && cluster.isPrimary) await superviseWorkers(config, log).catch(failedToStart);
else await serve(config, log);

async function serve(config: Config, log: Logger): Promise<void> {
  const ready = startKluis(config, log).catch(failedToStart);
  // Taken before the first await: a SIGTERM while Kluis starts (an orchestrator scaling down, the embedded Postgres
  // half up) waits for the start and then drains, instead of killing the process and leaving that Postgres running.
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'draining and shutting down');
      void ready
        .then((kluis) => kluis.stop())
        .then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
    });
  }
  const kluis = await ready;
  if (stopping) return;
  // The CLI, run without ISSUER, speaks for this issuer (cli/context.ts); a failure here must not stop the server.
  await recordIssuer(kluis.connection.db, config.issuer).catch((err: unknown) =>
    log.warn({ err }, 'the issuer could not be recorded for the CLI'),
  );
  // With several workers, the first one prints the demo banner; the server serves whether or not it could.
  if (kluis.demo && (process.env.KLUIS_WORKER ?? '1') === '1' && !stopping) {
    const { demo } = kluis;
    await demo.activationCode().then(
      (code) => {
        if (!stopping) printDemo(demo, code);
      },
      (err: unknown) => log.warn({ err }, 'the demo banner could not be printed'),
    );
  }
}

function printDemo({ startUrl, username, password }: DemoSetup, activationCode: string | undefined): void {
  process.stdout.write(
    [
      '',
      'Kluis demo (development only; DEMO=off turns it off)',
      `  open        ${startUrl}`,
      `  username    ${username}`,
      `  password    ${password}`,
      ...(activationCode
        ? [
            `  activation  ${activationCode}`,
            '  The first sign-in asks for a code: type the activation code, then enrol an authenticator app',
            '  (any TOTP app: scan the QR code or type the secret).',
          ]
        : ['  Sign in with the code from the authenticator app you enrolled.']),
      `  Afterwards ${startUrl.replace(/\/demo$/, '/account')} shows the consent and lets you withdraw it.`,
      '',
      '',
    ].join('\n'),
  );
}

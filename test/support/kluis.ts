import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/env.ts';
import { startKluis, type RunningKluis } from '../../src/kluis.ts';
import { createLogger } from '../../src/log/logger.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Rate limits high enough for tests that sign in many times from 127.0.0.1; the rate-limit tests set their own.
 */
export const GENEROUS_LIMITS = {
  RATE_LIMIT_LOGIN: '1000000',
  RATE_LIMIT_TOKEN: '1000000',
  RATE_LIMIT_AUTHORIZE: '1000000',
  RATE_LIMIT_REGISTER: '1000000',
};

export interface TestKluis extends RunningKluis {
  issuer: string;
}

/** Kluis in this process, on a free port, against `databaseUrl`; the issuer is its real address. */
export async function startTestKluis(databaseUrl: string, env: Record<string, string> = {}): Promise<TestKluis> {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: issuer,
    ...GENEROUS_LIMITS,
    ...env,
  });
  const kluis = await startKluis(config, createLogger('silent'));
  return { ...kluis, issuer: config.issuer };
}

export interface KluisProcess {
  child: ChildProcessWithoutNullStreams;
  issuer: string;
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** `node src/main.ts` as a separate process; resolves once it logs `until` (by default, that it is listening). */
export async function spawnKluis(
  env: Record<string, string>,
  timeoutMs = 60_000,
  until = 'kluis listening',
): Promise<KluisProcess> {
  const port = env.PORT ?? String(await freePort());
  const issuer = env.ISSUER ?? `http://localhost:${port}`;
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      ...GENEROUS_LIMITS,
      ...env,
      PORT: port,
      ISSUER: issuer,
    },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const deadline = Date.now() + timeoutMs;
  while (!output.includes(until)) {
    if (child.exitCode !== null) throw new Error(`kluis exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`kluis did not start within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, issuer, output: () => output, exited };
}

/** `node src/main.ts` expected to refuse to start: resolves with its exit code and output once it exits. */
export async function kluisRefusal(
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ code: number | null; output: string }> {
  try {
    const started = await spawnKluis(env, timeoutMs);
    started.child.kill('SIGKILL');
    throw new Error(`kluis started although it should have refused:\n${started.output()}`);
  } catch (err) {
    const exited = /^kluis exited with (\d+):\n([\s\S]*)$/.exec((err as Error).message);
    if (!exited) throw err;
    return { code: Number(exited[1]), output: exited[2]! };
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the operator CLI (`node src/cli/main.ts ...`) with `input` on stdin. */
export async function runCli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  const child = spawn(process.execPath, ['src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input ?? '');
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

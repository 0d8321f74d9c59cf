import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A port free right now on 127.0.0.1, for a server whose issuer URL must be known before it starts. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Rate limits no load run reaches: the bench measures the work, not the refusals (their bookkeeping still runs). */
export const UNREACHED_LIMITS = {
  RATE_LIMIT_LOGIN: '1000000',
  RATE_LIMIT_TOKEN: '1000000',
  RATE_LIMIT_AUTHORIZE: '1000000',
  RATE_LIMIT_REGISTER: '1000000',
};

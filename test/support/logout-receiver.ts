import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A client's back-channel logout endpoint on loopback: collects the logout tokens Kluis posts to it. */
export async function startLogoutReceiver() {
  const tokens: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      tokens.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    uri: `http://127.0.0.1:${port}/logout`,
    tokens,
    /** Waits up to two seconds for `count` tokens (Kluis sends them after answering the person). */
    async received(count = 1): Promise<string[]> {
      for (let tries = 0; tries < 40 && tokens.length < count; tries += 1)
        await new Promise((resolve) => setTimeout(resolve, 50));
      return tokens;
    },
    close: () => server.close(),
  };
}

import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import Koa from 'koa';
import { accessLog } from '../../src/http/access-log.ts';
import { createLogger } from '../../src/log/logger.ts';

/** A Koa app with only the access log in front of a 204, its log lines collected. */
async function served(
  level: 'info' | 'warn',
  work: (url: string) => Promise<void>,
): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const app = new Koa();
  app.use(accessLog(createLogger(level, sink)));
  app.use((ctx) => {
    ctx.status = 204;
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await work(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.close();
  }
  return lines;
}

test('at LOG_LEVEL=info every finished request is one line with method, path, status and duration', async () => {
  const lines = await served('info', async (url) => {
    await fetch(`${url}/some/path?q=1`);
  });
  assert.equal(lines.length, 1);
  assert.deepEqual(
    { msg: lines[0]!.msg, method: lines[0]!.method, path: lines[0]!.path, status: lines[0]!.status },
    { msg: 'request', method: 'GET', path: '/some/path', status: 204 },
  );
  assert.equal(typeof lines[0]!.ms, 'number');
});

test('below info no request line is written', async () => {
  const lines = await served('warn', async (url) => {
    await fetch(url);
  });
  assert.deepEqual(lines, []);
});

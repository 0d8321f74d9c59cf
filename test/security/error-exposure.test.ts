import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import Koa from 'koa';
import { UniqueViolation } from '../../src/db/errors.ts';
import { errorBoundary } from '../../src/http/errors.ts';
import { createLogger } from '../../src/log/logger.ts';
import { OutboundFailure } from '../../src/oidc/clients/outbound.ts';

// Only a PageError is written for the person at the browser or client. Other Kluis errors are written for the
// operator: a UniqueViolation names the database constraint, an OutboundFailure carries resolver and socket
// messages (internal host names, addresses). If one escapes a route, the error boundary keeps its status and shows
// a generic description instead.
test('storage and network errors that escape a route are not shown to the browser or client', async () => {
  const app = new Koa();
  app.use(errorBoundary(createLogger('silent')));
  app.use((ctx) => {
    if (ctx.path.endsWith('/unique')) throw new UniqueViolation('accounts_email');
    throw new OutboundFailure('getaddrinfo ENOTFOUND vault.internal.corp');
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    for (const path of ['/account/security/unique', '/token/unique', '/account/security/outbound', '/reg/outbound']) {
      for (const accept of ['text/html', 'application/json']) {
        const res = await fetch(base + path, { headers: { accept } });
        const body = await res.text();
        assert.doesNotMatch(
          body,
          /accounts_email|vault\.internal|ENOTFOUND/,
          `${path} (${accept}): ${body.slice(0, 400)}`,
        );
      }
    }
  } finally {
    server.close();
  }
});

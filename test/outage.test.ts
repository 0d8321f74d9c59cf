import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/db/embedded.ts';
import { createLogger } from '../src/log/logger.ts';
import { M2M_METADATA, registerClient, relyingParty } from './support/clients.ts';
import { freePort, startTestKluis, type TestKluis } from './support/kluis.ts';
import { tempDir } from './support/tempdir.ts';
import { Browser, formAction } from './support/browser.ts';
import { REDIRECT, RelyingParty } from './support/rp.ts';

// Postgres goes away under a running Kluis and comes back. The test starts and stops a Postgres of its own
// (embedded), never the machine's shared server.
let dir: Awaited<ReturnType<typeof tempDir>>;
let port: number;
let postgres: EmbeddedServer;
let kluis: TestKluis;
let client: AdapterPayload;
let web: AdapterPayload;
const log = createLogger('silent');

before(async () => {
  dir = await tempDir('kluis-outage');
  port = await freePort();
  postgres = await startEmbeddedPostgres(dir.path, port, log);
  client = await registerClient(postgres.url, M2M_METADATA);
  web = await registerClient(postgres.url, { redirect_uris: [REDIRECT], scope: 'openid profile email' });
  kluis = await startTestKluis(postgres.url, { DATABASE_POOL_MAX: '4' });
});
after(async () => {
  await kluis?.stop();
  await postgres?.stop();
  await dir?.remove();
});

const post = (path: string, body: string) =>
  fetch(new URL(path, kluis.url), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body,
  });

describe('database outage', () => {
  test('while Postgres is down requests get 503, and service resumes on its own when it is back', async () => {
    const rp = await relyingParty(kluis.issuer, client);
    const { access_token } = await oidc.clientCredentialsGrant(rp, {});
    // A person half-way through signing in when the database goes away.
    const browser = new Browser(kluis.issuer);
    const webRp = await RelyingParty.create(kluis.issuer, web);
    const request = await webRp.request();
    const { res: login } = await browser.follow(request.url);
    const loginPage = await login.text();
    assert.equal(login.status, 200, login.headers.get('location') ?? '');

    await postgres.stop();

    const { res: signIn } = await browser.submit(formAction(loginPage, 'login'), loginPage, { username: 'someone', password: 'a password' });
    assert.equal(signIn.status, 503, 'the sign-in page says temporarily unavailable, not 500');
    assert.equal(signIn.headers.get('retry-after'), '5');
    assert.match(await signIn.text(), /temporarily unavailable/);
    const { res: authorize } = await new Browser(kluis.issuer).follow((await webRp.request()).url);
    assert.equal(authorize.status, 503, 'a new authorization request too');

    const token = await post('/token', 'grant_type=client_credentials');
    assert.equal(token.status, 503);
    assert.equal(((await token.json()) as { error: string }).error, 'temporarily_unavailable');

    const introspection = await post('/token/introspection', `token=${access_token}`);
    assert.equal(introspection.status, 503);

    const ready = await fetch(new URL('/readyz', kluis.url));
    assert.equal(ready.status, 503);
    assert.equal((await fetch(new URL('/healthz', kluis.url))).status, 200, 'the process itself is alive');
    assert.equal((await fetch(new URL('/.well-known/openid-configuration', kluis.url))).status, 200, 'discovery needs no database');

    postgres = await startEmbeddedPostgres(dir.path, port, log);

    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await post('/token', 'grant_type=client_credentials')).status;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(status, 200, 'tokens are issued again without a restart');
    assert.equal((await fetch(new URL('/readyz', kluis.url))).status, 200);
    assert.equal((await oidc.tokenIntrospection(rp, access_token)).active, true, 'the token issued before the outage survived it');
  });
});

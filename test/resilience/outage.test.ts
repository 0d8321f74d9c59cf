import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { AdapterPayload } from 'oidc-provider';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded.ts';
import { createLogger } from '../../src/log/logger.ts';
import { M2M_METADATA, registerClient, relyingParty } from '../support/clients.ts';
import { freePort, startTestKluis, type TestKluis } from '../support/kluis.ts';
import { tempDir } from '../support/tempdir.ts';
import { Browser, formAction } from '../support/browser.ts';
import { REDIRECT, RelyingParty } from '../support/rp.ts';
import { addPerson, totpCode } from '../support/people.ts';

// Postgres goes away under a running Kluis and comes back. The test starts and stops a Postgres of its own
// (embedded), never the machine's shared server.
let dir: Awaited<ReturnType<typeof tempDir>>;
let port: number;
let postgres: EmbeddedServer;
let kluis: TestKluis;
let client: AdapterPayload;
let web: AdapterPayload;
let person: { secret?: string | undefined };
const PASSWORD = 'outage passphrase';
const log = createLogger('silent');

before(async () => {
  dir = await tempDir('kluis-outage');
  port = await freePort();
  postgres = await startEmbeddedPostgres(dir.path, port, log);
  client = await registerClient(postgres.url, M2M_METADATA);
  web = await registerClient(postgres.url, {
    redirect_uris: [REDIRECT],
    scope: 'openid profile email offline_access',
    grant_types: ['authorization_code', 'refresh_token'],
  });
  person = await addPerson(postgres.url, 'olga', PASSWORD, { totp: true });
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
    const webRp = await RelyingParty.create(kluis.issuer, web);
    // A person who signed in twice: tokens from the first code (with a refresh token), the second code not yet redeemed.
    const signedIn = new Browser(kluis.issuer);
    const codeFor = async (request: Awaited<ReturnType<RelyingParty['request']>>, code: string) => {
      const { res, external } = await signedIn.follow(request.url);
      if (external) return external;
      const page = await res.text();
      if (page.includes('/consent"'))
        return (await signedIn.submit(formAction(page, 'consent'), page, { scope: ['offline_access'] })).external!;
      const { res: mfa } = await signedIn.submit(formAction(page, 'login'), page, {
        username: 'olga',
        password: PASSWORD,
      });
      const mfaPage = await mfa.text();
      const { res: consent } = await signedIn.submit(formAction(mfaPage, 'mfa'), mfaPage, { code });
      const consentPage = await consent.text();
      return (await signedIn.submit(formAction(consentPage, 'consent'), consentPage, { scope: ['offline_access'] }))
        .external!;
    };
    const first = await webRp.request({ scope: 'openid offline_access', prompt: 'consent' });
    const tokens = await webRp.redeem(await codeFor(first, await totpCode(person.secret!)), first);
    assert.ok(tokens.refresh_token);
    const second = await webRp.request({ scope: 'openid offline_access', prompt: 'consent' });
    const pendingCode = await codeFor(second, '');
    // A person half-way through signing in when the database goes away.
    const browser = new Browser(kluis.issuer);
    const request = await webRp.request();
    const { res: login } = await browser.follow(request.url);
    const loginPage = await login.text();
    assert.equal(login.status, 200, login.headers.get('location') ?? '');

    await postgres.stop();

    const { res: signIn } = await browser.submit(formAction(loginPage, 'login'), loginPage, {
      username: 'someone',
      password: 'a password',
    });
    assert.equal(signIn.status, 503, 'the sign-in page says temporarily unavailable, not 500');
    assert.equal(signIn.headers.get('retry-after'), '5');
    assert.match(await signIn.text(), /temporarily unavailable/);
    const account = await signedIn.request('/account/consents');
    assert.equal(account.status, 503, 'the account area says temporarily unavailable too, as a page');
    assert.equal(account.headers.get('retry-after'), '5');
    assert.match(account.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await account.text(), /temporarily unavailable/);
    const { res: authorize } = await new Browser(kluis.issuer).follow((await webRp.request()).url);
    assert.equal(authorize.status, 503, 'a new authorization request too');

    const token = await post('/token', 'grant_type=client_credentials');
    assert.equal(token.status, 503);
    assert.equal(((await token.json()) as { error: string }).error, 'temporarily_unavailable');

    const introspection = await post('/token/introspection', `token=${access_token}`);
    assert.equal(introspection.status, 503);
    const webPost = (body: Record<string, string>) =>
      fetch(new URL('/token', kluis.url), {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${String(web.client_id)}:${String(web.client_secret)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams(body),
      });
    const redeemCode = () =>
      webPost({
        grant_type: 'authorization_code',
        code: pendingCode.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: second.verifier,
      });
    const refresh = () => webPost({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    assert.equal((await redeemCode()).status, 503, 'a code redemption during the outage');
    assert.equal((await refresh()).status, 503, 'a refresh during the outage');

    const ready = await fetch(new URL('/readyz', kluis.url));
    assert.equal(ready.status, 503);
    assert.equal((await fetch(new URL('/healthz', kluis.url))).status, 200, 'the process itself is alive');
    assert.equal(
      (await fetch(new URL('/.well-known/openid-configuration', kluis.url))).status,
      200,
      'discovery needs no database',
    );

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
    assert.equal(
      (await oidc.tokenIntrospection(rp, access_token)).active,
      true,
      'the token issued before the outage survived it',
    );
    // Nothing was half-done: the code and the refresh token work exactly once after the outage, neither lost nor doubled.
    // (Replays come last: a replayed code or refresh token revokes the whole grant, RFC 6749 4.1.2 / RFC 9700 4.14.2.)
    assert.equal((await refresh()).status, 200, 'the refresh token tried during the outage still works');
    assert.equal((await redeemCode()).status, 200, 'the code tried during the outage still works');
    assert.equal((await refresh()).status, 400, 'the refresh token works once (it rotated)');
    assert.equal((await redeemCode()).status, 400, 'the code works once');
  });
});

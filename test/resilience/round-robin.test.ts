import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { Browser, formAction } from '../support/browser.ts';
import type { TestDatabase } from '../support/database.ts';
import { withDatabase, type SeededDatabase } from '../support/fixture.ts';
import { freePort, spawnKluis, type KluisProcess } from '../support/kluis.ts';
import { totpCode } from '../support/people.ts';
import { REDIRECT, RelyingParty, signIn } from '../support/rp.ts';

// Three Kluis processes behind a round-robin balancer, one issuer: every request may land on another process.
let t: TestDatabase;
let processes: KluisProcess[] = [];
let ports: number[] = [];
let balancer: Server;
let issuer: string;
let web: AdapterPayload;
let person: { secret?: string | undefined };
const served = new Map<number, number>();
const PASSWORD = 'round robin passphrase';
let house: SeededDatabase<'web', 'rita'>;

before(async () => {
  house = await withDatabase({
    clients: {
      web: {
        redirect_uris: [REDIRECT],
        scope: 'openid offline_access',
        grant_types: ['authorization_code', 'refresh_token'],
      },
    },
    people: { rita: { password: PASSWORD, totp: true } },
  });
  t = house.database;
  web = house.clients.web;
  person = house.people.rita;
  const port = await freePort();
  issuer = `http://localhost:${port}`;
  ports = [await freePort(), await freePort(), await freePort()];
  processes = await Promise.all(
    ports.map((own) => spawnKluis({ DATABASE_URL: t.url, ISSUER: issuer, PORT: String(own) })),
  );
  let next = 0;
  balancer = createServer((req, res) => {
    const targetPort = ports[next++ % ports.length]!;
    served.set(targetPort, (served.get(targetPort) ?? 0) + 1);
    const upstream = request(
      { host: '127.0.0.1', port: targetPort, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  balancer.listen(port, '127.0.0.1');
  await once(balancer, 'listening');
  assert.equal((balancer.address() as AddressInfo).port, port);
});
after(async () => {
  balancer?.close();
  for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await house?.stop();
});

const tokenRequest = (body: Record<string, string>) =>
  fetch(new URL('/token', issuer), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${String(web.client_id)}:${String(web.client_secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(body),
  });

/** rita signs in through the balancer and consents; returns the request and where the browser was sent back to. */
async function signInThroughBalancer() {
  const rp = await RelyingParty.create(issuer, web);
  const browser = new Browser(issuer);
  const pending = await rp.request({ scope: 'openid offline_access', prompt: 'consent' });
  const { res } = await browser.follow(pending.url);
  // Both sign-ins fall in one 30 s TOTP step; replay protection (tested elsewhere) would refuse the code again.
  await t.db.query(`update accounts set totp_last_step = null where username = 'rita'`);
  const { res: consent } = await signIn(browser, await res.text(), 'rita', PASSWORD, await totpCode(person.secret!));
  const consentPage = await consent.text();
  const { external } = await browser.submit(formAction(consentPage, 'consent'), consentPage, {
    scope: ['offline_access'],
  });
  return { rp, pending, external };
}

describe('several processes behind a round-robin balancer', () => {
  test('a sign-in begun on one process finishes on others, and of 20 parallel redemptions of its code exactly one succeeds', async () => {
    const { pending, external } = await signInThroughBalancer();
    assert.ok(external?.searchParams.get('code'), 'the flow completed across processes');
    assert.equal(served.size, 3, 'every process served part of it');

    const code = external!.searchParams.get('code')!;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        tokenRequest({
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT,
          code_verifier: pending.verifier,
        }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join());
    assert.ok(
      statuses.every((s) => s === 200 || s === 400),
      statuses.join(),
    );
    const winner = answers.find((a) => a.status === 200)!;
    assert.ok(((await winner.json()) as { refresh_token?: string }).refresh_token);
  });

  test('of 20 parallel refreshes with one refresh token across the processes exactly one succeeds', async () => {
    // The code replays above revoked that grant (RFC 6749 4.1.2), so sign in once more for a fresh refresh token.
    const { rp, pending, external } = await signInThroughBalancer();
    const tokens = await rp.redeem(external!, pending);

    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join());
    assert.ok(
      statuses.every((s) => s === 200 || s === 400),
      statuses.join(),
    );
  });
});

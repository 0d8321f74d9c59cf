import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { isSpecialUseAddress, publicOnlyLookup } from '../../src/oidc/clients/outbound.ts';
import { verifySectorIdentifierUri } from '../../src/oidc/clients/sector-identifier.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runCli } from '../support/kluis.ts';
import { startTlsSite, type TlsSite } from '../support/tls.ts';

// What a registrant could make Kluis fetch (SSRF): never internal addresses once the issuer is https, never more
// than a small document, and never an answer that tells one network failure from another.
const GENERIC = 'sector_identifier_uri could not be fetched';
const REDIRECTS = ['https://d1.example/cb', 'https://d2.example/cb'];

let t: TestDatabase;
let site: TlsSite;
let silent: Server;
const silentSockets = new Set<Socket>();
const endless = { written: 0, finished: false, aborted: false };

before(async () => {
  t = await createTestDatabase();
  site = await startTlsSite(
    { '/sector.json': REDIRECTS },
    {
      // A chunked body (no Content-Length) of 64 MiB, written as fast as the reader takes it.
      '/endless.json': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(16 * 1024, 0x20);
        res.on('close', () => (endless.aborted = !endless.finished));
        const write = () => {
          while (endless.written < 64 * 1024 * 1024) {
            endless.written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', write);
          }
          endless.finished = true;
          res.end();
        };
        write();
      },
    },
  );
  // Accepts connections and never says a word: a TLS handshake that times out.
  silent = createServer((socket) => silentSockets.add(socket));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
});
after(async () => {
  for (const socket of silentSockets) socket.destroy();
  silent?.close();
  await site?.close();
  await t?.drop();
});

/** `clients add` with a sector_identifier_uri, as an operator runs it; returns its one-line error. */
async function registerWithSector(uri: string, trustSite = true): Promise<string> {
  const env: Record<string, string> = {
    DATABASE_URL: t.url,
    ...(trustSite ? { NODE_EXTRA_CA_CERTS: site.certFile } : {}),
  };
  const result = await runCli(
    ['clients', 'add'],
    env,
    JSON.stringify({ redirect_uris: REDIRECTS, sector_identifier_uri: uri }),
  );
  assert.equal(result.code, 1, result.stdout);
  return result.stderr.trimEnd();
}

const sectorError = (description: string) => (err: Error & { error?: string; error_description?: string }) =>
  err.error === 'invalid_client_metadata' && err.error_description === description;

describe('outbound requests', () => {
  test('loopback, private, link-local and unique-local addresses are special-use; public ones are not', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
    ]) {
      assert.equal(isSpecialUseAddress(address), true, address);
    }
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e'])
      assert.equal(isSpecialUseAddress(address), false, address);
  });

  test('IPv6 forms that embed an IPv4 address, and deprecated site-local addresses, are special-use', () => {
    const forms = [
      '::7f00:1', // IPv4-compatible 127.0.0.1
      '::ffff:7f00:1', // IPv4-mapped 127.0.0.1 written in hex, as the URL parser writes it
      '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
      '64:ff9b:1::7f00:1', // local-use NAT64 (RFC 8215)
      '2002:7f00:1::', // 6to4 of 127.0.0.1
      '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo (embeds an obfuscated IPv4 address)
      'fec0::1', // site-local (deprecated, RFC 3879)
      '::',
      '2001:db8::1',
      'ff02::1',
    ];
    for (const address of forms) assert.equal(isSpecialUseAddress(address), true, address);
  });

  test('in production a sector_identifier_uri on any of those literals is refused with the generic answer', async () => {
    for (const host of [
      '127.0.0.1',
      '[::1]',
      '[::7f00:1]',
      '[::ffff:127.0.0.1]',
      '[64:ff9b:1::7f00:1]',
      '[2002:7f00:1::]',
      '[fec0::1]',
    ]) {
      await assert.rejects(
        verifySectorIdentifierUri(
          { sector_identifier_uri: `https://${host}:1/sector.json`, redirect_uris: REDIRECTS },
          true,
          { timeoutMs: 50 },
        ),
        sectorError(GENERIC),
        host,
      );
    }
  });

  test("the socket's own lookup hands it only public addresses: a name answering 127.0.0.1 is never connected to", async () => {
    const port = Number(new URL(site.origin).port);
    const before = site.connections;
    const rebinding = ((_host: string, _options: unknown, callback: (err: null, addresses: LookupAddress[]) => void) =>
      callback(null, [{ address: '127.0.0.1', family: 4 }])) as unknown as typeof import('node:dns').lookup;
    await assert.rejects(
      verifySectorIdentifierUri(
        { sector_identifier_uri: `https://sector.example:${port}/sector.json`, redirect_uris: REDIRECTS },
        true,
        { resolve: rebinding, timeoutMs: 200 },
      ),
      sectorError(GENERIC),
    );

    // The lookup itself: special-use answers are dropped, public ones passed on as they came.
    const mixed = ((_host: string, _options: unknown, callback: (err: null, addresses: LookupAddress[]) => void) =>
      callback(null, [
        { address: '127.0.0.1', family: 4 },
        { address: '2606:4700:4700::1111', family: 6 },
        { address: '10.0.0.1', family: 4 },
      ])) as unknown as typeof import('node:dns').lookup;
    const lookup = publicOnlyLookup(mixed);
    const all = await new Promise((resolve, reject) =>
      lookup('x.example', { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
    );
    assert.deepEqual(all, [{ address: '2606:4700:4700::1111', family: 6 }]);
    const only = publicOnlyLookup(rebinding);
    await assert.rejects(
      new Promise((resolve, reject) => only('x.example', {}, (err, address) => (err ? reject(err) : resolve(address)))),
      /special-use/,
    );
    assert.equal(site.connections, before, 'no connection reached the site');
  });

  test('a chunked body past 64 KiB is cut off while it streams, with the generic answer', async () => {
    const message = await registerWithSector(`${site.origin}/endless.json`);
    assert.equal(message, `kluis: invalid_client_metadata: ${GENERIC}`);
    for (let tries = 0; tries < 50 && !endless.aborted; tries += 1)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(endless.finished, false, 'Kluis did not read the whole body');
    assert.ok(endless.aborted, 'Kluis closed the connection');
    assert.ok(endless.written < 8 * 1024 * 1024, `the server could write only ${endless.written} bytes before the cut`);
  });

  test('refused, timed out, untrusted TLS and HTTP 404 all give the same one-line answer', async () => {
    const silentPort = (silent.address() as { port: number }).port;
    const answers = await Promise.all([
      registerWithSector('https://127.0.0.1:1/sector.json'),
      registerWithSector(`https://127.0.0.1:${silentPort}/sector.json`),
      registerWithSector(`${site.origin}/sector.json`, false),
      registerWithSector(`${site.origin}/missing.json`),
    ]);
    assert.deepEqual(answers, Array(4).fill(`kluis: invalid_client_metadata: ${GENERIC}`));
    const { rows } = await t.db.query(`select 1 from oidc_models where model = 'Client'`);
    assert.equal(rows.length, 0, 'nothing stored');
  });

  test('every failure answers when the deadline has passed: a closed or silent port, untrusted TLS, a special-use address', async () => {
    const deadline = 600;
    const silentPort = (silent.address() as { port: number }).port;
    const failures: [string, boolean][] = [
      ['https://127.0.0.1:1/sector.json', false], // closed port: refused at once
      [`https://127.0.0.1:${silentPort}/sector.json`, false], // silent: times out
      [`${site.origin}/sector.json`, false], // this process does not trust the site's certificate
      ['https://[::1]:1/sector.json', true], // special-use literal in production: never connected to
    ];
    const timings = await Promise.all(
      failures.map(async ([uri, production]) => {
        const started = performance.now();
        await assert.rejects(
          verifySectorIdentifierUri({ sector_identifier_uri: uri, redirect_uris: REDIRECTS }, production, {
            timeoutMs: deadline,
          }),
          sectorError(GENERIC),
          uri,
        );
        return performance.now() - started;
      }),
    );
    for (const [i, elapsed] of timings.entries()) {
      assert.ok(
        elapsed >= deadline - 5 && elapsed < deadline + 150,
        `${failures[i]![0]} answered after ${Math.round(elapsed)} ms`,
      );
    }
    assert.ok(Math.max(...timings) - Math.min(...timings) < 100, `spread ${timings.map(Math.round).join(', ')} ms`);
  });
});

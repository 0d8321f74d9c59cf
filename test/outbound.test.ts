import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertPublicHost, isSpecialUseAddress } from '../src/oidc/outbound.ts';
import { verifySectorIdentifierUri } from '../src/oidc/sector-identifier.ts';

// What a registrant could make Kluis fetch (SSRF): never internal addresses once the issuer is https.
describe('outbound requests', () => {
  test('loopback, private, link-local and unique-local addresses are special-use; public ones are not', () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1']) {
      assert.equal(isSpecialUseAddress(address), true, address);
    }
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111']) assert.equal(isSpecialUseAddress(address), false, address);
  });

  test('a host that resolves to a special-use address is refused', async () => {
    await assert.rejects(assertPublicHost(new URL('https://localhost/sector.json')), /localhost resolves to a special-use IP address/);
    await assert.rejects(assertPublicHost(new URL('https://[::1]/sector.json')), /special-use/);
    await assert.rejects(assertPublicHost(new URL('https://169.254.169.254/latest/meta-data')), /special-use/);
  });

  test('in production a sector_identifier_uri on an internal address is rejected before any request', async () => {
    await assert.rejects(
      verifySectorIdentifierUri({ sector_identifier_uri: 'https://127.0.0.1:1/sector.json', redirect_uris: ['https://a.example/cb'] }, true),
      (err: Error & { error?: string; error_description?: string }) =>
        err.error === 'invalid_client_metadata' && /127\.0\.0\.1 resolves to a special-use IP address/.test(String(err.error_description)),
    );
  });
});

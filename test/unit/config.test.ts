import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/env.ts';
import { runCli, ROOT } from '../support/kluis.ts';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { STRONG_SECRET as SECRET } from '../support/secrets.ts';

describe('configuration', () => {
  test('defaults: port 3000 on loopback, issuer on localhost, embedded database, no proxy trust, info logs', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
    assert.equal(config.host, '127.0.0.1');
    assert.deepEqual(config.trustedProxies, []);
    assert.equal(config.issuer, 'http://localhost:3000');
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.trustProxy, false);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.production, false);
    assert.equal(config.accessTokenTtl, 600);
  });

  test('DEMO=auto seeds the demo only for a plain start: embedded database and http issuer', () => {
    assert.equal(loadConfig({}).demo, true);
    assert.equal(loadConfig({ DATABASE_URL: 'postgres://db/kluis' }).demo, false);
    assert.equal(loadConfig({ ISSUER: 'https://login.example.com', KLUIS_SECRET: SECRET, TRUST_PROXY: 'true' }).demo, false);
    assert.equal(loadConfig({ DEMO: 'off' }).demo, false);
    assert.equal(loadConfig({ DEMO: 'on', DATABASE_URL: 'postgres://db/kluis' }).demo, true);
    assert.throws(
      () => loadConfig({ DEMO: 'on', ISSUER: 'https://login.example.com', KLUIS_SECRET: SECRET, TRUST_PROXY: 'true' }),
      (err: unknown) => err instanceof ConfigError && /DEMO=on is for development only/.test(err.message),
    );
  });

  test('the default issuer follows PORT; empty variables count as unset', () => {
    assert.equal(loadConfig({ PORT: '8080', DATABASE_URL: '' }).issuer, 'http://localhost:8080');
    assert.equal(loadConfig({ PORT: '8080', DATABASE_URL: '' }).databaseUrl, undefined);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['DEMO', { DEMO: 'yes' }, /^DEMO must be auto, on or off \(got "yes"\)$/],
    ['PORT', { PORT: 'abc' }, /^PORT must be a TCP port number \(1-65535\) \(got "abc"\)$/],
    ['PORT', { PORT: '70000' }, /^PORT must be a TCP port number/],
    ['ISSUER', { ISSUER: 'https://login.example.com/' }, /^ISSUER must be an absolute http\(s\) URL/],
    ['ISSUER', { ISSUER: 'login.example.com' }, /^ISSUER must be an absolute/],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }, /^DATABASE_URL must be a postgres:\/\/ connection URL$/],
    ['TRUST_PROXY', { TRUST_PROXY: 'maybe' }, /^TRUST_PROXY must be true or false/],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of/],
    ['ACCESS_TOKEN_TTL', { ACCESS_TOKEN_TTL: '3600' }, /^ACCESS_TOKEN_TTL must be at most 600 seconds/],
    ['KLUIS_SECRET', { KLUIS_SECRET: 'short' }, /^KLUIS_SECRET must hold at least 256 bits of random data/],
    ['TRUSTED_PROXIES', { TRUSTED_PROXIES: '10.0.0.300' }, /^TRUSTED_PROXIES: "10.0.0.300" is not an IP address or CIDR range/],
    ['TRUSTED_PROXIES', { TRUSTED_PROXIES: '10.0.0.0/33' }, /^TRUSTED_PROXIES: "10.0.0.0\/33" is not an IP address or CIDR range with a prefix of 0-32 bits/],
    ['TRUSTED_PROXIES', { TRUSTED_PROXIES: 'proxy.internal' }, /^TRUSTED_PROXIES: "proxy.internal" is not an IP address/],
    ['TRUSTED_PROXIES', { TRUSTED_PROXIES: ',' }, /^TRUSTED_PROXIES must list proxy addresses or CIDR ranges/],
    ['MTLS_CERTIFICATE_HEADER', { MTLS_CERTIFICATE_HEADER: 'X SSL: cert' }, /^MTLS_CERTIFICATE_HEADER must be an HTTP header name/],
  ];
  for (const [variable, env, message] of bad) {
    test(`a bad ${variable} (${JSON.stringify(Object.values(env)[0])}) names the variable and what it expects`, () => {
      assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }

  test('the value of a secret is never echoed in an error', () => {
    assert.throws(() => loadConfig({ KLUIS_SECRET: 'short-secret' }), (err: Error) => !err.message.includes('short-secret'));
  });

  test('an https issuer (production) refuses to start without KLUIS_SECRET', () => {
    assert.throws(() => loadConfig({ ISSUER: 'https://login.bank.example' }), /KLUIS_SECRET is required when ISSUER is https/);
    const config = loadConfig({ ISSUER: 'https://login.bank.example', KLUIS_SECRET: SECRET, TRUST_PROXY: 'true' });
    assert.equal(config.production, true);
    assert.equal(config.secret, SECRET);
  });

  test('an https issuer needs a trusted proxy: Kluis serves plain HTTP behind a TLS-terminating proxy', () => {
    assert.throws(
      () => loadConfig({ ISSUER: 'https://login.bank.example', KLUIS_SECRET: SECRET }),
      (err: unknown) => err instanceof ConfigError && /^ISSUER is https but Kluis serves plain HTTP: .* set TRUSTED_PROXIES to its address/.test(err.message),
    );
    assert.equal(loadConfig({ ISSUER: 'https://login.bank.example', KLUIS_SECRET: SECRET, TRUSTED_PROXIES: '10.0.0.5' }).production, true);
  });

  test('the client certificate header is believed only from a trusted proxy (MTLS_CERTIFICATE_HEADER needs one)', () => {
    assert.throws(
      () => loadConfig({ MTLS_CERTIFICATE_HEADER: 'X-SSL-Client-Cert' }),
      (err: unknown) => err instanceof ConfigError && /MTLS_CERTIFICATE_HEADER is set but no proxy is trusted/.test(err.message),
    );
    assert.equal(loadConfig({ MTLS_CERTIFICATE_HEADER: 'X-SSL-Client-Cert', TRUST_PROXY: 'true' }).mtlsCertificateHeader, 'x-ssl-client-cert');
  });

  test('TRUSTED_PROXIES turns proxy trust on for exactly its addresses; TRUST_PROXY=true alone trusts loopback only', () => {
    const listed = loadConfig({ TRUSTED_PROXIES: ' 10.0.0.5, 172.28.0.0/16 ,fd00::/64,::ffff:192.0.2.1' });
    assert.equal(listed.trustProxy, true);
    assert.deepEqual(listed.trustedProxies, ['10.0.0.5', '172.28.0.0/16', 'fd00::/64', '::ffff:192.0.2.1']);
    assert.deepEqual(loadConfig({ TRUST_PROXY: 'true' }).trustedProxies, ['127.0.0.1', '::1']);
    assert.deepEqual(loadConfig({ TRUST_PROXY: 'false' }).trustedProxies, []);
    assert.throws(() => loadConfig({ TRUST_PROXY: 'false', TRUSTED_PROXIES: '10.0.0.5' }), /TRUSTED_PROXIES is set but TRUST_PROXY=false/);
  });

  test('forwarded headers from everyone are refused: a /0 range is not a proxy', () => {
    for (const everyone of ['0.0.0.0/0', '::/0', '10.0.0.5,0.0.0.0/0']) {
      assert.throws(
        () => loadConfig({ TRUSTED_PROXIES: everyone, HOST: '0.0.0.0' }),
        (err: unknown) => err instanceof ConfigError && /^TRUSTED_PROXIES: ".*\/0" is too wide a range to be proxies/.test(err.message),
        everyone,
      );
    }
  });

  test('ranges that trust every IPv4 peer some other way are refused too: halves, wide IPv6, the IPv4-mapped block', () => {
    // Node matches an IPv4 peer against IPv4-mapped IPv6 entries, so ::/1 and ::ffff:0:0/96 hold every IPv4 address.
    const wide = ['0.0.0.0/1,128.0.0.0/1', '10.0.0.0/7', '::/1', '::/15', '::/16', '::ffff:0:0/96', '::ffff:0:0/103', '2001:db8::/15'];
    for (const entries of wide) {
      assert.throws(
        () => loadConfig({ TRUSTED_PROXIES: entries }),
        (err: unknown) =>
          err instanceof ConfigError && !err.message.includes('\n') && /^TRUSTED_PROXIES: ".+" is too wide a range to be proxies: use \/8/.test(err.message),
        entries,
      );
    }
    const narrow = '10.0.0.0/8,172.16.0.0/12,fd00::/16,2001:db8::/32,::ffff:10.0.0.0/104,::ffff:192.0.2.1,::1';
    assert.deepEqual(loadConfig({ TRUSTED_PROXIES: narrow }).trustedProxies, narrow.split(','));
  });

  test('a weak KLUIS_SECRET is refused, named and never echoed; 32 random bytes in hex or base64 are accepted', () => {
    const weak = ['a'.repeat(32), 'a'.repeat(64), 'an-operator-supplied-secret-of-48-characters-xx', 'CorrectHorseBatteryStapleCorrectHorseBattery', randomBytes(31).toString('base64')];
    for (const secret of weak) {
      assert.throws(
        () => loadConfig({ ISSUER: 'https://login.bank.example', KLUIS_SECRET: secret, TRUST_PROXY: 'true' }),
        (err: unknown) => err instanceof ConfigError && /^KLUIS_SECRET must hold at least 256 bits of random data/.test(err.message) && !err.message.includes(secret),
        secret,
      );
    }
    for (const encoding of ['hex', 'base64', 'base64url'] as const) {
      const secret = randomBytes(32).toString(encoding);
      assert.equal(loadConfig({ ISSUER: 'https://login.bank.example', KLUIS_SECRET: secret, TRUST_PROXY: 'true' }).secret, secret);
    }
  });

  test('a KLUIS_SECRET made by hand in a random-looking alphabet is refused: repeated pieces, runs of characters', () => {
    const handMade = [
      'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ', // a run through the alphabet
      '0123456789abcdef'.repeat(4), // hex digits in order, repeated
      'KluisProductionSecret2024'.repeat(2), // a phrase twice
      `${randomBytes(30).toString('base64url')}vwxyz`, // random, but ending in a run of 5
      `${randomBytes(30).toString('hex')}9876543`, // random hex ending in a descending run of 7
      `${randomBytes(24).toString('base64url')}Q7xRab${randomBytes(6).toString('base64url')}Q7xRab`, // a piece of 6, twice
    ];
    for (const secret of handMade) {
      assert.throws(
        () => loadConfig({ ISSUER: 'https://login.bank.example', KLUIS_SECRET: secret, TRUST_PROXY: 'true' }),
        (err: unknown) => err instanceof ConfigError && /^KLUIS_SECRET must hold at least 256 bits of random data/.test(err.message),
        secret,
      );
    }
    // Random secrets as operators are told to make them pass (0 of 200,000 of each refused, docs/operator-guide.md).
    for (let i = 0; i < 2000; i += 1) {
      for (const encoding of ['hex', 'base64', 'base64url'] as const) {
        const secret = randomBytes(32).toString(encoding);
        assert.equal(loadConfig({ ISSUER: 'https://login.bank.example', KLUIS_SECRET: secret, TRUST_PROXY: 'true' }).secret, secret);
      }
    }
  });

  test('the server stops with exit status 1 and one line naming the bad variable', () => {
    const result = spawnSync(process.execPath, ['src/main.ts'], { cwd: ROOT, env: { PATH: process.env.PATH, PORT: 'abc' }, encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, 'kluis: configuration error: PORT must be a TCP port number (1-65535) (got "abc")\n');
  });

  test('the server refuses an https issuer without KLUIS_SECRET before touching any database', () => {
    const result = spawnSync(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ISSUER: 'https://login.bank.example', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^kluis: configuration error: KLUIS_SECRET is required when ISSUER is https/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });

  test('the server refuses a bad TRUSTED_PROXIES at boot with one line naming it', () => {
    const result = spawnSync(process.execPath, ['src/main.ts'], { cwd: ROOT, env: { PATH: process.env.PATH, TRUSTED_PROXIES: '10.0.0.0/0' }, encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^kluis: configuration error: TRUSTED_PROXIES: "10.0.0.0\/0" is too wide a range to be proxies/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });

  test('the CLI reports a configuration error the same way', async () => {
    const result = await runCli(['keys', 'list'], { LOG_LEVEL: 'loud' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^kluis: LOG_LEVEL must be one of/);
  });
});

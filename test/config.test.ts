import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/env.ts';
import { runCli, ROOT } from './support/kluis.ts';
import { spawnSync } from 'node:child_process';

const SECRET = 'an-operator-supplied-secret-of-48-characters-xx';

describe('configuration', () => {
  test('defaults: port 3000, issuer on localhost, embedded database, no proxy trust, info logs', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
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
    ['KLUIS_SECRET', { KLUIS_SECRET: 'short' }, /^KLUIS_SECRET must be at least 32 characters/],
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

  test('an https issuer needs TRUST_PROXY: Kluis serves plain HTTP behind a TLS-terminating proxy', () => {
    assert.throws(
      () => loadConfig({ ISSUER: 'https://login.bank.example', KLUIS_SECRET: SECRET }),
      (err: unknown) => err instanceof ConfigError && /ISSUER is https but Kluis serves plain HTTP: .* set TRUST_PROXY=true$/.test(err.message),
    );
  });

  test('the client certificate header is believed only from a trusted proxy (MTLS_CERTIFICATE_HEADER needs TRUST_PROXY)', () => {
    assert.throws(
      () => loadConfig({ MTLS_CERTIFICATE_HEADER: 'X-SSL-Client-Cert' }),
      (err: unknown) => err instanceof ConfigError && /MTLS_CERTIFICATE_HEADER is set but TRUST_PROXY is not/.test(err.message),
    );
    assert.equal(loadConfig({ MTLS_CERTIFICATE_HEADER: 'X-SSL-Client-Cert', TRUST_PROXY: 'true' }).mtlsCertificateHeader, 'x-ssl-client-cert');
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

  test('the CLI reports a configuration error the same way', async () => {
    const result = await runCli(['keys', 'list'], { LOG_LEVEL: 'loud' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^kluis: LOG_LEVEL must be one of/);
  });
});

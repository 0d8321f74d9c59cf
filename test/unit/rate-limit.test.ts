import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyPart } from '../../src/http/client-claims.ts';
import { bucketOf } from '../../src/http/endpoints.ts';
import { RecentCounts, retryAfterSeconds } from '../../src/http/recent-counts.ts';

// The rate limits' arithmetic, without Postgres: which counter a request counts against, when a count this process
// learned stands in for a fresh read, Retry-After, and counter keys.
const NOW = 1_700_000_000_000;
const at = (ms: number) => new Date(NOW + ms);

test('a count learned within the last second well below the limit skips the read', () => {
  let now = NOW;
  const counts = new RecentCounts(() => now);
  counts.learn('k', { hits: 10, resetAt: at(60_000) });
  assert.equal(counts.comfortablyBelow(['k'], 100), true);
  now += 1001;
  assert.equal(counts.comfortablyBelow(['k'], 100), false, 'older than a second: read again');
});

test('near the limit (within a tenth of it, at least 2) the read happens', () => {
  const counts = new RecentCounts(() => NOW);
  counts.learn('k', { hits: 89, resetAt: at(60_000) });
  assert.equal(counts.comfortablyBelow(['k'], 100), true, '89 + 10 < 100');
  counts.learn('k', { hits: 90, resetAt: at(60_000) });
  assert.equal(counts.comfortablyBelow(['k'], 100), false, '90 + 10 is not below 100');
  counts.learn('small', { hits: 2, resetAt: at(60_000) });
  assert.equal(counts.comfortablyBelow(['small'], 5), true, '2 + 2 < 5');
  counts.learn('small', { hits: 3, resetAt: at(60_000) });
  assert.equal(counts.comfortablyBelow(['small'], 5), false);
});

test('a learned window that has ended counts as room, whatever its hits', () => {
  const counts = new RecentCounts(() => NOW);
  counts.learn('k', { hits: 1000, resetAt: at(0) });
  assert.equal(counts.comfortablyBelow(['k'], 10), true);
});

test('every key must be comfortably below; an unseen key is not', () => {
  const counts = new RecentCounts(() => NOW);
  counts.learnPeek(['ip', 'client'], [{ key: 'ip', hits: 1, resetAt: at(60_000) }], 60);
  assert.equal(counts.comfortablyBelow(['ip', 'client'], 100), true, 'a key without a row has no hits yet');
  assert.equal(counts.comfortablyBelow(['ip', 'other'], 100), false);
});

test('Retry-After is the whole seconds until the window ends, at least one', () => {
  assert.equal(retryAfterSeconds(at(30_001), NOW), 31);
  assert.equal(retryAfterSeconds(at(30_000), NOW), 30);
  assert.equal(retryAfterSeconds(at(10), NOW), 1);
  assert.equal(retryAfterSeconds(at(-5_000), NOW), 1);
});

test('a client id goes into its key as sent up to 64 characters, longer ones by their SHA-256', () => {
  assert.equal(keyPart('c'.repeat(64)), 'c'.repeat(64));
  const long = keyPart('c'.repeat(65));
  assert.match(long, /^sha256:[\w-]{43}$/);
  const prefix = 'c'.repeat(64);
  assert.notEqual(keyPart(`${prefix}a`), keyPart(`${prefix}b`), 'a shared prefix is not a shared counter');
});

test('a client id Postgres could not store goes into its key by its SHA-256, not as sent', () => {
  assert.match(keyPart('client\u0000id'), /^sha256:[\w-]{43}$/);
  assert.match(keyPart('client\ud800'), /^sha256:[\w-]{43}$/);
  assert.notEqual(keyPart('a\u0000'), keyPart('b\u0000'));
});

test('each request counts against the bucket the endpoint catalogue names, under every spelling of its path', () => {
  assert.equal(bucketOf('POST', '/interaction/AbC/login'), 'login');
  assert.equal(bucketOf('POST', '/INTERACTION/AbC/MFA/'), 'login');
  assert.equal(bucketOf('GET', '/interaction/AbC/login'), undefined, 'only the form posts');
  assert.equal(bucketOf('POST', '/interaction/AbC/consent'), undefined);
  assert.equal(bucketOf('POST', '/account/security/totp'), 'login', 'second factors judged in the account area');
  assert.equal(bucketOf('GET', '/account/security'), undefined);
  for (const method of ['GET', 'HEAD', 'POST']) assert.equal(bucketOf(method, '/auth'), 'authorize', method);
  assert.equal(bucketOf('PUT', '/auth'), undefined);
  assert.equal(bucketOf('GET', '/session/end/confirm'), 'logout');
  assert.equal(bucketOf('POST', '/reg'), 'register');
  assert.equal(bucketOf('GET', '/reg'), undefined);
  for (const method of ['GET', 'PUT', 'DELETE']) assert.equal(bucketOf(method, '/reg/client-1'), 'register', method);
  for (const path of ['/token', '/request', '/token/introspection', '/token/revocation']) {
    assert.equal(bucketOf('POST', path), 'token', path);
  }
  assert.equal(bucketOf('POST', '/token%2F'), undefined, 'reaches no handler');
});

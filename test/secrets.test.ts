import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../src/config/env.ts';
import { ensureSigningKeys, loadKeyRing } from '../src/oidc/keys.ts';
import { DecryptionFailed, SecretBox } from '../src/secrets/secret-box.ts';
import { loadServerSecrets } from '../src/secrets/server-secrets.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { STRONG_SECRET } from './support/secrets.ts';

const SECRET = STRONG_SECRET;

describe('SecretBox (AES-256-GCM under the key-encryption key)', () => {
  const box = SecretBox.fromMasterSecret(SECRET);

  test('decrypts what it encrypted, with a fresh IV each time', () => {
    const a = box.encrypt('hello', 'p');
    assert.notEqual(a, box.encrypt('hello', 'p'));
    assert.equal(box.decrypt(a, 'p'), 'hello');
  });

  test('a value sealed for one purpose does not open for another', () => {
    assert.throws(() => box.decrypt(box.encrypt('hello', 'cookie keys'), 'signing key'), DecryptionFailed);
  });

  test('an altered ciphertext or another master secret is detected', () => {
    const sealed = box.encrypt('hello', 'p');
    const parts = sealed.split('.');
    const flipped = Buffer.from(parts[2]!, 'base64url');
    flipped[0]! ^= 1;
    parts[2] = flipped.toString('base64url');
    assert.throws(() => box.decrypt(parts.join('.'), 'p'), DecryptionFailed);
    assert.throws(() => SecretBox.fromMasterSecret(`${SECRET}x`).decrypt(sealed, 'p'), DecryptionFailed);
  });
});

describe('server secrets in the database', () => {
  let dev: TestDatabase;
  let prod: TestDatabase;
  before(async () => {
    [dev, prod] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  });
  after(async () => {
    await Promise.all([dev.drop(), prod.drop()]);
  });

  test('in development they are generated once, identical for every process starting at once, and stable', async () => {
    const loads = await Promise.all(Array.from({ length: 5 }, () => loadServerSecrets(dev.db, { secret: undefined, production: false })));
    for (const loaded of loads) {
      assert.deepEqual(loaded.cookieKeys, loads[0]!.cookieKeys);
      assert.equal(loaded.pairwiseSalt, loads[0]!.pairwiseSalt);
    }
    assert.equal(loads[0]!.cookieKeys[0]!.length, 43, '256-bit cookie key');
    const again = await loadServerSecrets(dev.db, { secret: undefined, production: false });
    assert.deepEqual(again.cookieKeys, loads[0]!.cookieKeys);
  });

  test('cookie keys and the pairwise salt are stored encrypted', async () => {
    const secrets = await loadServerSecrets(dev.db, { secret: undefined, production: false });
    const { rows } = await dev.db.query<{ value: string }>(`select value from server_secrets where name in ('cookie_keys', 'pairwise_salt')`);
    assert.equal(rows.length, 2);
    const stored = JSON.stringify(rows);
    assert.ok(!stored.includes(secrets.cookieKeys[0]!));
    assert.ok(!stored.includes(secrets.pairwiseSalt));
  });

  test('with KLUIS_SECRET nothing of the master secret is stored, and a different secret is refused', async () => {
    await loadServerSecrets(prod.db, { secret: SECRET, production: true });
    const { rows } = await prod.db.query(`select name, value from server_secrets`);
    assert.ok(!rows.some((row) => row.name === 'dev_master_secret'));
    assert.ok(!JSON.stringify(rows).includes(SECRET));
    await assert.rejects(
      loadServerSecrets(prod.db, { secret: `${SECRET}-rotated`, production: true }),
      (err: unknown) => err instanceof ConfigError && /KLUIS_SECRET does not match/.test(err.message),
    );
  });

  test('production never generates a master secret', async () => {
    await assert.rejects(loadServerSecrets(prod.db, { secret: undefined, production: true }), ConfigError);
  });

  test('private signing keys are stored encrypted: no private JWK member appears in the table', async () => {
    const { box } = await loadServerSecrets(prod.db, { secret: SECRET, production: true });
    await ensureSigningKeys(prod.db, box);
    const ring = await loadKeyRing(prod.db, box);
    const { rows } = await prod.db.query(`select * from signing_keys`);
    const stored = JSON.stringify(rows);
    for (const key of ring.jwks.keys) assert.ok(!stored.includes(String(key.d)), `private part of ${key.kid} is in clear`);
    assert.ok(rows.every((row) => !('d' in (row.public_jwk as object))));
  });
});

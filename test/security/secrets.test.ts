import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/config/env.ts';
import { ensureSigningKeys, loadKeyRing } from '../../src/oidc/provider/keys.ts';
import { DecryptionFailed, SecretBox } from '../../src/secrets/secret-box.ts';
import { KEK_ARGON2, loadServerSecrets } from '../../src/secrets/server-secrets.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { STRONG_SECRET } from '../support/secrets.ts';

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
    const loads = await Promise.all(
      Array.from({ length: 5 }, () => loadServerSecrets(dev.db, { secret: undefined, production: false })),
    );
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
    const { rows } = await dev.db.query<{ value: string }>(
      `select value from server_secrets where name in ('cookie_keys', 'pairwise_salt')`,
    );
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

  test('a database set up with KLUIS_SECRET stretches it with argon2id under its own random salt, not HKDF alone', async () => {
    const other = await createTestDatabase();
    try {
      const first = await loadServerSecrets(prod.db, { secret: SECRET, production: true });
      // Processes starting at once on a new database agree on one salt.
      const [second, ...others] = await Promise.all(
        Array.from({ length: 3 }, () => loadServerSecrets(other.db, { secret: SECRET, production: true })),
      );
      for (const loaded of others) assert.equal(loaded.box.keyedHash('x', 'p'), second!.box.keyedHash('x', 'p'));
      const kdf = async (db: TestDatabase['db']) =>
        JSON.parse(
          (await db.query<{ value: string }>(`select value from server_secrets where name = 'kek_kdf'`)).rows[0]!.value,
        ) as Record<string, unknown>;
      const [one, two] = [await kdf(prod.db), await kdf(other.db)];
      assert.deepEqual(
        { ...one, salt: undefined },
        { alg: 'argon2id', salt: undefined, m: KEK_ARGON2.memoryKiB, t: KEK_ARGON2.passes, p: KEK_ARGON2.lanes },
      );
      assert.equal(Buffer.from(String(one.salt), 'base64url').length, 16);
      assert.notEqual(one.salt, two.salt);
      // The same secret gives each database its own key, and neither is the HKDF-only key a dump could be tested
      // against.
      const hkdfOnly = SecretBox.fromMasterSecret(SECRET);
      assert.notEqual(first.box.keyedHash('x', 'p'), second!.box.keyedHash('x', 'p'));
      assert.notEqual(first.box.keyedHash('x', 'p'), hkdfOnly.keyedHash('x', 'p'));
      const { rows } = await prod.db.query<{ value: string }>(
        `select value from server_secrets where name = 'kek_check'`,
      );
      assert.throws(() => hkdfOnly.decrypt(rows[0]!.value, 'kek_check'), DecryptionFailed);
      assert.equal(first.box.decrypt(rows[0]!.value, 'kek_check'), 'kluis key-encryption key check');
      // Loaded again (a restart, another process), the stored parameters give the same key.
      assert.equal(
        (await loadServerSecrets(prod.db, { secret: SECRET, production: true })).box.keyedHash('x', 'p'),
        first.box.keyedHash('x', 'p'),
      );
    } finally {
      await other.drop();
    }
  });

  test('a database set up before argon2id keeps its HKDF key: it starts, and its keyed hashes do not change', async () => {
    const old = await createTestDatabase();
    try {
      // What an earlier Kluis stored on first start: the check value under the HKDF key, and no kek_kdf row.
      const hkdfOnly = SecretBox.fromMasterSecret(SECRET);
      await old.db.query(`insert into server_secrets (name, value) values ('kek_check', $1)`, [
        hkdfOnly.encrypt('kluis key-encryption key check', 'kek_check'),
      ]);
      const { box } = await loadServerSecrets(old.db, { secret: SECRET, production: true });
      assert.equal(box.keyedHash('token id', 'AccessToken'), hkdfOnly.keyedHash('token id', 'AccessToken'));
      const { rows } = await old.db.query(`select 1 from server_secrets where name = 'kek_kdf'`);
      assert.equal(rows.length, 0, 'no derivation row is added to an existing database');
    } finally {
      await old.drop();
    }
  });

  test('a kek_kdf row Kluis cannot use stops it with one line', async () => {
    const bad = await createTestDatabase();
    try {
      await bad.db.query(`insert into server_secrets (name, value) values ('kek_kdf', $1)`, [
        JSON.stringify({ alg: 'argon2id', salt: 'x', m: 1, t: 0, p: 1 }),
      ]);
      await assert.rejects(
        loadServerSecrets(bad.db, { secret: SECRET, production: true }),
        (err: unknown) =>
          err instanceof ConfigError && /^server_secrets row kek_kdf is not an argon2id derivation/.test(err.message),
      );
    } finally {
      await bad.drop();
    }
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
    for (const key of ring.jwks.keys)
      assert.ok(!stored.includes(String(key.d)), `private part of ${key.kid} is in clear`);
    assert.ok(rows.every((row) => !('d' in (row.public_jwk as object))));
  });
});

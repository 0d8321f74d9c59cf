import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Queryable } from '../../src/db/database.ts';
import { PostgresAdapter } from '../../src/db/oidc-adapter.ts';
import { TokenLookups } from '../../src/db/token-lookups.ts';
import { SecretBox } from '../../src/secrets/secret-box.ts';
import { type TestDatabase, withTestDatabase } from '../support/database.ts';

// Introspection and revocation find a presented token as an access token, client credentials and a refresh token
// at once; the token models share one TokenLookups, so that costs one statement, with every answer as a find of its
// own would give it. Real Postgres, a database per test; statements are counted on the way to it.
const box = SecretBox.fromMasterSecret('token-lookups-contract-master-secret-0123');

function withModels(
  work: (
    models: Record<'at' | 'cc' | 'rt', PostgresAdapter>,
    statements: () => number,
    t: TestDatabase,
  ) => Promise<void>,
): Promise<void> {
  return withTestDatabase(async (t) => {
    let count = 0;
    const counted: Queryable = {
      query: (text, values) => {
        count += 1;
        return t.db.query(text, values);
      },
    };
    const lookups = new TokenLookups(counted);
    const adapter = (model: string) => new PostgresAdapter(model, counted, box, { lookups });
    await work(
      { at: adapter('AccessToken'), cc: adapter('ClientCredentials'), rt: adapter('RefreshToken') },
      () => count,
      t,
    );
  });
}

test('a token found as three models at once costs one statement, and only its own model finds it', () =>
  withModels(async ({ at, cc, rt }, statements) => {
    await at.upsert('token-1', { jti: 'token-1', clientId: 'c', kind: 'AccessToken' }, 60);
    const before = statements();
    const [asAccess, asCredentials, asRefresh] = await Promise.all([
      at.find('token-1'),
      cc.find('token-1'),
      rt.find('token-1'),
    ]);
    assert.equal(statements() - before, 1);
    assert.equal(asAccess?.kind, 'AccessToken');
    assert.equal(asAccess?.jti, 'token-1');
    assert.equal(asCredentials, undefined);
    assert.equal(asRefresh, undefined);
  }));

test('finds of different tokens at once are not mixed up', () =>
  withModels(async ({ at, rt }, statements) => {
    await at.upsert('token-a', { jti: 'token-a', kind: 'AccessToken' }, 60);
    await rt.upsert('token-r', { jti: 'token-r', kind: 'RefreshToken' }, 60);
    const before = statements();
    const [a, r, neither] = await Promise.all([at.find('token-a'), rt.find('token-r'), at.find('token-r')]);
    assert.equal(statements() - before, 2, 'one statement per token');
    assert.deepEqual([a?.jti, r?.jti, neither], ['token-a', 'token-r', undefined]);
  }));

test('a consumed token is found with its consumption and an expired one not at all, as by a single find', () =>
  withModels(async ({ at, rt }, _statements, t) => {
    await rt.upsert('spent', { jti: 'spent' }, 60);
    await rt.consume('spent');
    await at.upsert('old', { jti: 'old' }, 60);
    await t.db.query(`update oidc_models set expires_at = now() - interval '1 second' where model = 'AccessToken'`);
    const [spent, old] = await Promise.all([rt.find('spent'), at.find('old')]);
    assert.equal(typeof spent?.consumed, 'number');
    assert.equal(old, undefined);
  }));

test('a find asked for after the statement went out reads the row again', () =>
  withModels(async ({ at }, statements) => {
    await at.upsert('token-2', { jti: 'token-2' }, 60);
    assert.ok(await at.find('token-2'));
    await at.destroy('token-2');
    const before = statements();
    assert.equal(await at.find('token-2'), undefined);
    assert.equal(statements() - before, 1);
  }));

test('one token found twice as one model at once (two requests presenting it) gives each its own copy', () =>
  withModels(async ({ at }, statements) => {
    await at.upsert('token-3', { jti: 'token-3', extra: { nested: 'kept' } }, 60);
    const before = statements();
    const [first, second] = await Promise.all([at.find('token-3'), at.find('token-3')]);
    assert.equal(statements() - before, 1);
    (first!.extra as { nested: string }).nested = 'changed by one request';
    assert.deepEqual(second!.extra, { nested: 'kept' });
  }));

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClientControlStore, PgClientControlStore } from '../../src/db/client-controls.ts';
import { PostgresAdapter } from '../../src/db/oidc-adapter.ts';
import { SecretBox } from '../../src/secrets/secret-box.ts';
import { type TestDatabase, withTestDatabase } from '../support/database.ts';

// The ClientControlStore contract on real Postgres, each test on a database of its own.
const box = SecretBox.fromMasterSecret('client-controls-contract-master-secret-0123');

function withStore(work: (store: ClientControlStore, t: TestDatabase) => Promise<void>): Promise<void> {
  return withTestDatabase((t) => work(new PgClientControlStore(t.db), t));
}

async function models(t: TestDatabase): Promise<string[]> {
  const { rows } = await t.db.query<{ model: string }>('select model from oidc_models order by model');
  return rows.map((row) => row.model);
}

test('disabling revokes every code and token of the client and keeps its grants, sessions and registration', () =>
  withStore(async (store, t) => {
    const save = (model: string, id: string, clientId: string) =>
      new PostgresAdapter(model, t.db, box).upsert(id, { jti: id, clientId }, 3600);
    await new PostgresAdapter('Client', t.db, box).upsert('budget', { client_id: 'budget' });
    for (const model of ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'ClientCredentials']) {
      await save(model, `${model}-1`, 'budget');
    }
    await save('PushedAuthorizationRequest', 'par-1', 'budget');
    for (const model of ['Grant', 'Session', 'Interaction', 'RegistrationAccessToken']) {
      await save(model, `${model}-1`, 'budget');
    }
    await save('AccessToken', 'at-shop', 'shop');

    assert.equal(await store.disable('budget'), true);
    const kept = ['AccessToken', 'Client', 'Grant', 'Interaction', 'RegistrationAccessToken', 'Session'];
    assert.deepEqual(await models(t), kept, "only the other client's token is left of the tokens");
    assert.equal((await new PostgresAdapter('AccessToken', t.db, box).find('at-shop'))?.clientId, 'shop');
    assert.deepEqual(await store.disabledIds(), new Set(['budget']));
  }));

test('disabling twice reports the second as no change; enabling reports whether the client was disabled', () =>
  withStore(async (store) => {
    assert.equal(await store.disable('budget'), true);
    assert.equal(await store.disable('budget'), false);
    assert.equal(await store.enable('budget'), true);
    assert.equal(await store.enable('budget'), false);
    assert.deepEqual(await store.disabledIds(), new Set());
  }));

test("a disabled client is not found by the adapter oidc-provider uses, only by the operator's", () =>
  withStore(async (store, t) => {
    await new PostgresAdapter('Client', t.db, box).upsert('budget', { client_id: 'budget' });
    await store.disable('budget');
    assert.equal(await new PostgresAdapter('Client', t.db, box).find('budget'), undefined);
    assert.ok(await new PostgresAdapter('Client', t.db, box, { includeDisabled: true }).find('budget'));
    await store.enable('budget');
    assert.ok(await new PostgresAdapter('Client', t.db, box).find('budget'));
  }));

test('a previous secret stays valid for its grace period only, and a grace of 0 keeps none', () =>
  withStore(async (store, t) => {
    await store.keepPreviousSecret('budget', 'sealed-1', 3600);
    await store.keepPreviousSecret('budget', 'sealed-none', 0);
    await store.keepPreviousSecret('shop', 'sealed-shop', 3600);
    assert.deepEqual(await store.previousSecrets('budget'), ['sealed-1']);
    await t.db.query(`update previous_client_secrets set expires_at = now() - interval '1 second'`);
    assert.deepEqual(await store.previousSecrets('budget'), []);
    await store.keepPreviousSecret('budget', 'sealed-2', 3600);
    const { rows } = await t.db.query('select secret_encrypted from previous_client_secrets order by secret_encrypted');
    const left = [{ secret_encrypted: 'sealed-2' }, { secret_encrypted: 'sealed-shop' }];
    assert.deepEqual(rows, left, 'expired ones of the client go');
  }));

test("forgetting a client drops its disabled state and previous secrets, and no other client's", () =>
  withStore(async (store) => {
    await store.disable('budget');
    await store.keepPreviousSecret('budget', 'sealed-1', 3600);
    await store.disable('shop');
    await store.keepPreviousSecret('shop', 'sealed-shop', 3600);
    await store.forget('budget');
    assert.deepEqual(await store.disabledIds(), new Set(['shop']));
    assert.deepEqual(await store.previousSecrets('budget'), []);
    assert.deepEqual(await store.previousSecrets('shop'), ['sealed-shop']);
  }));

test("controls change inside a caller's transaction and roll back with it", () =>
  withStore(async (_store, t) => {
    await assert.rejects(
      t.db.transaction(async (tx) => {
        await new PgClientControlStore(tx).disable('budget');
        throw new Error('the caller gives up');
      }),
      /gives up/,
    );
    assert.deepEqual(await new PgClientControlStore(t.db).disabledIds(), new Set());
  }));

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { hashLegacyBearerIds } from '../../src/db/bearer-ids.ts';
import { Database } from '../../src/db/database.ts';
import { DatabaseUnavailable, RowAlreadyConsumed, UnstorableInput } from '../../src/db/errors.ts';
import { HASHED_ID_MODELS, MODELS, PostgresAdapter, storedId } from '../../src/db/oidc-adapter.ts';
import { sweepExpired } from '../../src/db/sweeper.ts';
import { ProviderAdapter } from '../../src/oidc/provider/adapter.ts';
import { AlreadyConsumed, StorageUnavailable } from '../../src/oidc/provider/errors.ts';
import { SecretBox } from '../../src/secrets/secret-box.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

// The storage contract oidc-provider relies on, run method by method against real Postgres for every model.
let t: TestDatabase;
const box = SecretBox.fromMasterSecret('contract-test-master-secret-0123456789');
let counter = 0;
const uniqueId = () => `id-${process.pid}-${++counter}`;

before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t.drop();
});

async function expire(model: string, id: string) {
  await t.db.query(`update oidc_models set expires_at = now() - interval '1 second' where model = $1 and id = $2`, [
    model,
    storedId(box, model, id),
  ]);
}

for (const model of MODELS) {
  describe(`${model} adapter`, () => {
    const adapter = () => new PostgresAdapter(model, t.db, box);

    test('find returns what upsert stored, and nothing for an unknown id', async () => {
      const id = uniqueId();
      const payload: AdapterPayload = {
        jti: id,
        kind: model,
        iat: 1,
        exp: 2,
        clientId: 'c1',
        grantId: 'g1',
        scope: 'openid',
        extra: { nested: [1, 'two'] },
      };
      await adapter().upsert(id, payload, 60);
      assert.deepEqual(await adapter().find(id), payload);
      assert.equal(await adapter().find(`${id}-missing`), undefined);
    });

    test('upsert replaces the payload of an existing id', async () => {
      const id = uniqueId();
      await adapter().upsert(id, { jti: id, scope: 'a' }, 60);
      await adapter().upsert(id, { jti: id, scope: 'b' }, 60);
      assert.equal((await adapter().find(id))?.scope, 'b');
    });

    test('a fractional expiresIn is accepted', async () => {
      const id = uniqueId();
      await adapter().upsert(id, { jti: id }, 59.5);
      assert.ok(await adapter().find(id));
    });

    test('a row without expiresIn never expires', async () => {
      const id = uniqueId();
      await adapter().upsert(id, { jti: id });
      const { rows } = await t.db.query('select expires_at from oidc_models where model = $1 and id = $2', [
        model,
        storedId(box, model, id),
      ]);
      assert.equal(rows[0]?.expires_at, null);
      assert.ok(await adapter().find(id));
    });

    test('expired rows are never returned, by id, uid or user code', async () => {
      const id = uniqueId();
      await adapter().upsert(id, { jti: id, uid: `uid-${id}`, userCode: `UC-${id}` }, 60);
      await expire(model, id);
      assert.equal(await adapter().find(id), undefined);
      assert.equal(await adapter().findByUid(`uid-${id}`), undefined);
      assert.equal(await adapter().findByUserCode(`UC-${id}`), undefined);
    });

    test('findByUid and findByUserCode find the row by its secondary key', async () => {
      const id = uniqueId();
      await adapter().upsert(id, { jti: id, scope: 'openid', uid: `uid-${id}`, userCode: `UC-${id}` }, 60);
      // A hashed id cannot be given back by a secondary key: oidc-provider only reads what it finds that way.
      const expected = HASHED_ID_MODELS.has(model) ? undefined : id;
      assert.equal((await adapter().findByUid(`uid-${id}`))?.jti, expected);
      assert.equal((await adapter().findByUserCode(`UC-${id}`))?.jti, expected);
      assert.equal((await adapter().findByUid(`uid-${id}`))?.scope, 'openid');
      assert.equal(await adapter().findByUid('no-such-uid'), undefined);
      assert.equal(await adapter().findByUserCode('NO-SUCH'), undefined);
    });

    test('destroy removes the row', async () => {
      const id = uniqueId();
      await adapter().upsert(id, { jti: id }, 60);
      await adapter().destroy(id);
      assert.equal(await adapter().find(id), undefined);
    });

    test('consume marks the row consumed once; a second fails, to oidc-provider with invalid_grant', async () => {
      const id = uniqueId();
      await adapter().upsert(id, { jti: id }, 60);
      await adapter().consume(id);
      const found = await adapter().find(id);
      assert.equal(typeof found?.consumed, 'number');
      assert.ok(Math.abs((found!.consumed as number) - Date.now() / 1000) < 60);
      await assert.rejects(adapter().consume(id), RowAlreadyConsumed);
      await assert.rejects(
        new ProviderAdapter(adapter()).consume(id),
        (err: unknown) => err instanceof AlreadyConsumed && err.error === 'invalid_grant',
      );
    });

    test('consume of an expired or missing row fails', async () => {
      const id = uniqueId();
      await adapter().upsert(id, { jti: id }, 60);
      await expire(model, id);
      await assert.rejects(adapter().consume(id), RowAlreadyConsumed);
      await assert.rejects(adapter().consume(`${id}-missing`), RowAlreadyConsumed);
    });

    test('of 20 parallel consumes of one row exactly one succeeds', async () => {
      const id = uniqueId();
      await adapter().upsert(id, { jti: id }, 60);
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => new PostgresAdapter(model, t.db, box).consume(id)),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const refused = results.filter((r) => r.status === 'rejected');
      assert.ok(refused.every((r) => (r as PromiseRejectedResult).reason instanceof RowAlreadyConsumed));
    });

    test("revokeByGrantId removes this model's rows of that grant and nothing else", async () => {
      const grantId = `grant-${uniqueId()}`;
      const [a, b, other] = [uniqueId(), uniqueId(), uniqueId()];
      await adapter().upsert(a, { jti: a, grantId }, 60);
      await adapter().upsert(b, { jti: b, grantId }, 60);
      await adapter().upsert(other, { jti: other, grantId: `${grantId}-other` }, 60);
      const otherModel = model === 'AccessToken' ? 'RefreshToken' : 'AccessToken';
      await new PostgresAdapter(otherModel, t.db, box).upsert(a, { jti: a, grantId }, 60);

      await adapter().revokeByGrantId(grantId);
      assert.equal(await adapter().find(a), undefined);
      assert.equal(await adapter().find(b), undefined);
      assert.ok(await adapter().find(other));
      assert.ok(await new PostgresAdapter(otherModel, t.db, box).find(a), 'another model keeps its row');
    });
  });
}

describe('bearer values at rest', () => {
  for (const model of HASHED_ID_MODELS) {
    test(`a ${model} row holds neither its raw id nor another bearer value, and is still found by the raw id`, async () => {
      const id = `${uniqueId()}-RAW-BEARER-VALUE`;
      const cookie = `${uniqueId()}-SESSION-COOKIE`;
      const adapter = new PostgresAdapter(model, t.db, box);
      const returnTo = `https://issuer.example/auth/${id}`;
      const parJti = `${uniqueId()}-RAW-PAR-ID`;
      const bearerFields = {
        returnTo,
        parJti,
        params: { client_id: 'c', request_uri: `urn:ietf:params:oauth:request_uri:${parJti}` },
      };
      // Only an Interaction carries other bearer values (see src/db/oidc-payloads.ts).
      const interaction = model === 'Interaction';
      const extra = interaction ? { session: { accountId: 'acc', uid: 'su', cookie }, ...bearerFields } : {};
      await adapter.upsert(id, { jti: id, grantId: 'g-rest', ...extra }, 60);
      const { rows } = await t.db.query<{ row: string }>(`select o::text as row from oidc_models o where model = $1`, [
        model,
      ]);
      assert.ok(rows.length > 0);
      const leaks = [id, cookie, parJti];
      assert.ok(!rows.some((row) => leaks.some((value) => row.row.includes(value))), 'no raw value in any stored row');
      const found = await adapter.find(id);
      assert.equal(found?.jti, id);
      if (interaction) {
        assert.deepEqual(found?.session, { accountId: 'acc', uid: 'su' }, 'the session cookie is dropped');
        assert.equal(found?.returnTo, returnTo, 'sealed fields come back as they were');
        assert.deepEqual(found?.params, bearerFields.params);
        assert.equal(found?.parJti, parJti);
      }
      await adapter.consume(id);
      await adapter.destroy(id);
      assert.equal(await adapter.find(id), undefined);
    });
  }

  test('a keyed hash under another master secret does not find the row', async () => {
    const id = uniqueId();
    await new PostgresAdapter('RefreshToken', t.db, box).upsert(id, { jti: id }, 60);
    const other = SecretBox.fromMasterSecret('another-master-secret-0123456789abcdef');
    assert.equal(await new PostgresAdapter('RefreshToken', t.db, other).find(id), undefined);
  });

  test('a large table is re-keyed in batches: every raw row once, none left', async () => {
    const legacy = await createTestDatabase();
    try {
      await legacy.db.query(
        `insert into oidc_models (model, id, payload, expires_at)
         select m, 'raw-' || g, jsonb_build_object('jti', 'raw-' || g, 'scope', 'n' || g), now() + interval '1 hour'
         from generate_series(1, 1300) g, unnest(array['AccessToken', 'RefreshToken']) m`,
      );
      assert.equal(await hashLegacyBearerIds(legacy.db, box), 2600);
      const { rows } = await legacy.db.query<{ raw: number; all: number }>(
        `select count(*) filter (where id not like 'kh1.%')::int as raw, count(*)::int as all from oidc_models`,
      );
      assert.deepEqual(rows[0], { raw: 0, all: 2600 });
      assert.equal((await new PostgresAdapter('RefreshToken', legacy.db, box).find('raw-1234'))?.scope, 'n1234');
    } finally {
      await legacy.drop();
    }
  });

  test('rows written with raw ids before hashing are re-keyed once at start and keep working', async () => {
    const legacy = await createTestDatabase();
    try {
      const id = `legacy-${uniqueId()}`;
      await legacy.db.query(
        `insert into oidc_models (model, id, payload, grant_id, expires_at) values
           ('RefreshToken', $1, $2, 'g-legacy', now() + interval '1 hour'),
           ('Interaction', $1, $3, null, now() + interval '1 hour'),
           ('Grant', 'g-legacy', '{"jti":"g-legacy"}', null, now() + interval '1 hour')`,
        [
          id,
          { jti: id, scope: 'openid' },
          {
            jti: id,
            returnTo: `https://issuer.example/auth/${id}`,
            session: { accountId: 'a', cookie: 'legacy-cookie' },
          },
        ],
      );
      const rekeyed = await Promise.all([hashLegacyBearerIds(legacy.db, box), hashLegacyBearerIds(legacy.db, box)]);
      assert.deepEqual(rekeyed.sort(), [0, 2], 'one start re-keys, the other finds it done');
      const { rows } = await legacy.db.query<{ row: string }>(`select o::text as row from oidc_models o`);
      assert.ok(!rows.some((row) => row.row.includes(id) || row.row.includes('legacy-cookie')));
      assert.equal((await new PostgresAdapter('RefreshToken', legacy.db, box).find(id))?.scope, 'openid');
      assert.equal(
        (await new PostgresAdapter('Interaction', legacy.db, box).find(id))?.returnTo,
        `https://issuer.example/auth/${id}`,
      );
      assert.ok(await new PostgresAdapter('Grant', legacy.db, box).find('g-legacy'), 'grants keep their ids');
      assert.equal(await hashLegacyBearerIds(legacy.db, box), 0, 'later starts skip it');
    } finally {
      await legacy.drop();
    }
  });
});

describe('replay detection', () => {
  test('of 20 parallel lookups of a new jti exactly one reports it unseen, across connections', async () => {
    const id = uniqueId();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => new PostgresAdapter('ReplayDetection', t.db, box).find(id)),
    );
    assert.equal(results.filter((result) => result === undefined).length, 1);
  });

  test('an expired jti can be claimed again', async () => {
    const id = uniqueId();
    assert.equal(await new PostgresAdapter('ReplayDetection', t.db, box).find(id), undefined);
    assert.notEqual(await new PostgresAdapter('ReplayDetection', t.db, box).find(id), undefined);
    await expire('ReplayDetection', id);
    assert.equal(await new PostgresAdapter('ReplayDetection', t.db, box).find(id), undefined);
  });
});

describe('storage details', () => {
  test('the same id in two models are two independent rows', async () => {
    const id = uniqueId();
    await new PostgresAdapter('AccessToken', t.db, box).upsert(id, { jti: id, scope: 'at' }, 60);
    await new PostgresAdapter('RefreshToken', t.db, box).upsert(id, { jti: id, scope: 'rt' }, 60);
    await new PostgresAdapter('AccessToken', t.db, box).destroy(id);
    assert.equal((await new PostgresAdapter('RefreshToken', t.db, box).find(id))?.scope, 'rt');
  });

  test('client secrets are encrypted at rest and returned in clear', async () => {
    const id = uniqueId();
    const secret = 'a-very-secret-client-secret-value';
    const clients = new PostgresAdapter('Client', t.db, box);
    await clients.upsert(id, { client_id: id, client_secret: secret });
    const { rows } = await t.db.query<{ payload: unknown }>(
      `select payload from oidc_models where model = 'Client' and id = $1`,
      [id],
    );
    assert.ok(!JSON.stringify(rows[0]?.payload).includes(secret));
    assert.equal((await clients.find(id))?.client_secret, secret);
  });

  test('the sweep deletes expired rows in bounded batches and keeps live ones', async () => {
    await t.db.query(`delete from oidc_models`);
    const adapter = new PostgresAdapter('AccessToken', t.db, box);
    for (let i = 0; i < 25; i += 1) await adapter.upsert(`expired-${i}`, { jti: `expired-${i}`, scope: 'expired' }, 60);
    for (let i = 0; i < 5; i += 1) await adapter.upsert(`live-${i}`, { jti: `live-${i}` }, 60);
    await t.db.query(
      `update oidc_models set expires_at = now() - interval '1 minute' where payload->>'scope' = 'expired'`,
    );

    assert.equal(await sweepExpired(t.db, 10, 2), 20, 'two batches of ten at most');
    assert.equal(await sweepExpired(t.db, 10), 5);
    const { rows } = await t.db.query<{ n: string }>(`select count(*) as n from oidc_models`);
    assert.equal(Number(rows[0]?.n), 5);
  });
});

describe('what oidc-provider sees of storage errors', () => {
  test('an outage is DatabaseUnavailable in storage and temporarily_unavailable (503) to oidc-provider', async () => {
    // Nothing listens on port 1: every query fails to connect, as during an outage.
    const down = new Database('postgres://postgres@127.0.0.1:1/kluis', { max: 1 });
    try {
      const storage = new PostgresAdapter('AccessToken', down, box);
      await assert.rejects(storage.find(uniqueId()), DatabaseUnavailable);
      await assert.rejects(new ProviderAdapter(storage).find(uniqueId()), (err: unknown) => {
        assert.ok(err instanceof StorageUnavailable);
        assert.equal(err.error, 'temporarily_unavailable');
        assert.equal(err.statusCode, 503);
        return true;
      });
    } finally {
      await down.close();
    }
  });

  test('a value Postgres cannot store is invalid_request through the provider adapter', async () => {
    const id = uniqueId();
    const storage = new PostgresAdapter('AccessToken', t.db, box);
    await assert.rejects(storage.upsert(id, { jti: id, scope: 'a\u0000b' }, 60), UnstorableInput);
    await assert.rejects(
      new ProviderAdapter(storage).upsert(id, { jti: id, scope: 'a\u0000b' }, 60),
      (err: unknown) => (err as { error?: string }).error === 'invalid_request',
    );
  });

  test('what the provider adapter finds is what storage found', async () => {
    const id = uniqueId();
    const provider = new ProviderAdapter(new PostgresAdapter('RefreshToken', t.db, box));
    await provider.upsert(id, { jti: id, scope: 'openid', uid: `uid-${id}` }, 60);
    assert.equal((await provider.find(id))?.scope, 'openid');
    assert.equal((await provider.findByUid(`uid-${id}`))?.scope, 'openid');
    await provider.destroy(id);
    assert.equal(await provider.find(id), undefined);
  });
});

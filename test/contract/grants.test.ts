import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import type { LedgerEntry } from '../../src/db/consent-ledger.ts';
import { UnstorableInput } from '../../src/db/errors.ts';
import { type GrantStore, PgGrantStore } from '../../src/db/grants.ts';
import { PostgresAdapter } from '../../src/db/oidc-adapter.ts';
import { SecretBox } from '../../src/secrets/secret-box.ts';
import { type TestDatabase, withTestDatabase } from '../support/database.ts';

// The GrantStore contract on real Postgres, each test on a database of its own. Rows are written through the
// oidc-provider adapter, in oidc-provider's payload format, as a running Kluis writes them.
const box = SecretBox.fromMasterSecret('grants-contract-master-secret-0123456789');

function withStore(work: (store: GrantStore, t: TestDatabase) => Promise<void>): Promise<void> {
  return withTestDatabase((t) => work(new PgGrantStore(t.db), t));
}

function save(t: TestDatabase, model: string, id: string, payload: AdapterPayload, expiresIn = 3600) {
  return new PostgresAdapter(model, t.db, box).upsert(id, { jti: id, ...payload }, expiresIn);
}

function grantPayload(accountId: string, clientId: string, iat: number, extra: AdapterPayload = {}): AdapterPayload {
  return { kind: 'Grant', accountId, clientId, iat, openid: { scope: 'openid email', claims: ['email'] }, ...extra };
}

function entry(grantId: string, overrides: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    accountId: 'acc-1',
    clientId: 'budget',
    clientName: 'Budget',
    grantId,
    action: 'revoked',
    channel: 'account_area',
    scopes: ['openid'],
    claims: [],
    resources: {},
    authorizationDetails: [],
    ...overrides,
  };
}

async function rowCount(t: TestDatabase, sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await t.db.query<{ n: number }>(`select count(*)::int as n from (${sql}) counted`, values);
  return rows[0]?.n ?? 0;
}

test('the reusable grant is the newest live one of the person to the client, never an open banking one', () =>
  withStore(async (store, t) => {
    await save(t, 'Grant', 'g-old', grantPayload('acc-1', 'budget', 100));
    await save(t, 'Grant', 'g-new', grantPayload('acc-1', 'budget', 200));
    const payment = { rar: [{ type: 'payment_initiation' }] };
    await save(t, 'Grant', 'g-payment', grantPayload('acc-1', 'budget', 300, payment));
    await save(t, 'Grant', 'g-other-client', grantPayload('acc-1', 'shop', 400));
    await save(t, 'Grant', 'g-other-person', grantPayload('acc-2', 'budget', 500));
    assert.equal(await store.reusableGrantId('acc-1', 'budget'), 'g-new');
    await t.db.query(`update oidc_models set expires_at = now() - interval '1 second' where id = 'g-new'`);
    assert.equal(await store.reusableGrantId('acc-1', 'budget'), 'g-old', 'an expired grant is not reused');
    assert.equal(await store.reusableGrantId('acc-3', 'budget'), undefined);
  }));

test("a person's live grants are listed newest first with scopes, claims, resources and authorization details", () =>
  withStore(async (store, t) => {
    await save(t, 'Grant', 'g-1', grantPayload('acc-1', 'budget', 1_700_000_000));
    const details = [{ type: 'account_information', actions: ['read'] }];
    const resources = { 'https://api.example': 'read  write' };
    await save(t, 'Grant', 'g-2', grantPayload('acc-1', 'shop', 1_700_000_100, { resources, rar: details }));
    await save(t, 'Grant', 'g-expired', grantPayload('acc-1', 'old', 1_700_000_200), 60);
    await t.db.query(`update oidc_models set expires_at = now() - interval '1 second' where id = 'g-expired'`);
    await save(t, 'Grant', 'g-theirs', grantPayload('acc-2', 'budget', 1_700_000_300));

    const grants = await store.grantsOf('acc-1');
    assert.deepEqual(
      grants.map((grant) => grant.id),
      ['g-2', 'g-1'],
    );
    const [shop, budget] = grants;
    assert.deepEqual(shop?.resources, { 'https://api.example': ['read', 'write'] });
    assert.deepEqual(shop?.authorizationDetails, details);
    assert.deepEqual(budget?.scopes, ['openid', 'email']);
    assert.deepEqual(budget?.claims, ['email']);
    assert.equal(budget?.grantedAt.getTime(), 1_700_000_000_000);
    assert.ok(budget?.expiresAt instanceof Date);
    assert.equal(budget?.lastUsedAt, null);
  }));

test('grants given in the same second are listed in the same order every time: by grant id, descending', () =>
  withStore(async (store, t) => {
    // Written out of id order, so neither the insertion order nor the primary key's gives the expected list by chance.
    for (const id of ['g-c', 'g-a', 'g-d', 'g-b']) await save(t, 'Grant', id, grantPayload('acc-1', id, 1_700_000_000));
    await save(t, 'Grant', 'g-newer', grantPayload('acc-1', 'newer', 1_700_000_001));
    await save(t, 'Grant', 'g-older', grantPayload('acc-1', 'older', 1_699_999_999));
    const expected = ['g-newer', 'g-d', 'g-c', 'g-b', 'g-a', 'g-older'];
    assert.deepEqual(
      (await store.grantsOf('acc-1')).map((grant) => grant.id),
      expected,
    );
    // Rewriting a grant moves its row; the order stays.
    await save(t, 'Grant', 'g-a', grantPayload('acc-1', 'g-a', 1_700_000_000));
    await save(t, 'Grant', 'g-b', grantPayload('acc-1', 'g-b', 1_700_000_000));
    assert.deepEqual(
      (await store.grantsOf('acc-1')).map((grant) => grant.id),
      expected,
    );
  }));

test('one grant is found only for the person it belongs to, and only while it lives', () =>
  withStore(async (store, t) => {
    await save(t, 'Grant', 'g-1', grantPayload('acc-1', 'budget', 100));
    assert.equal((await store.grantOf('acc-1', 'g-1'))?.clientId, 'budget');
    assert.equal(await store.grantOf('acc-2', 'g-1'), undefined, 'another person cannot act on it');
    assert.equal(await store.grantOf('acc-1', 'g-missing'), undefined);
  }));

test('recording use keeps the latest use and the furthest JWT access expiry', () =>
  withStore(async (store, t) => {
    await save(t, 'Grant', 'g-1', grantPayload('acc-1', 'budget', 100));
    const later = new Date(Date.now() + 3_600_000);
    await store.recordUse('g-1', later);
    await store.recordUse('g-1', new Date(Date.now() + 60_000));
    await store.recordUse('g-1', null);
    const grant = await store.grantOf('acc-1', 'g-1');
    assert.equal(grant?.jwtAccessUntil?.getTime(), later.getTime());
    assert.ok(grant?.lastUsedAt && Math.abs(grant.lastUsedAt.getTime() - Date.now()) < 60_000);
  }));

test('withdrawing deletes the grant and everything issued under it, keeps other grants, and is in the ledger', () =>
  withStore(async (store, t) => {
    await save(t, 'Grant', 'g-1', grantPayload('acc-1', 'budget', 100));
    await save(t, 'Grant', 'g-2', grantPayload('acc-1', 'shop', 100));
    for (const model of ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode']) {
      await save(t, model, `${model}-1`, { grantId: 'g-1', accountId: 'acc-1', clientId: 'budget' });
    }
    await save(t, 'AccessToken', 'at-2', { grantId: 'g-2', accountId: 'acc-1', clientId: 'shop' });
    await store.recordUse('g-1', null);

    assert.equal(await store.withdraw('g-1', entry('g-1')), 5);
    assert.equal(await rowCount(t, `select 1 from oidc_models where id = 'g-1' or grant_id = 'g-1'`), 0);
    assert.equal(await rowCount(t, `select 1 from grant_usage where grant_id = 'g-1'`), 0);
    assert.equal(await rowCount(t, `select 1 from oidc_models where id = 'g-2' or grant_id = 'g-2'`), 2);
    const [withdrawn] = await store.ledger('acc-1');
    assert.equal(withdrawn?.grantId, 'g-1');
    assert.equal(withdrawn?.action, 'revoked');
  }));

test('a withdrawal whose ledger entry cannot be written deletes nothing', () =>
  withStore(async (store, t) => {
    await save(t, 'Grant', 'g-1', grantPayload('acc-1', 'budget', 100));
    await save(t, 'AccessToken', 'at-1', { grantId: 'g-1', accountId: 'acc-1', clientId: 'budget' });
    await assert.rejects(store.withdraw('g-1', entry('g-1', { clientName: 'Bud\u0000get' })), UnstorableInput);
    assert.equal(await rowCount(t, `select 1 from oidc_models where id = 'g-1' or grant_id = 'g-1'`), 2);
    assert.deepEqual(await store.ledger('acc-1'), []);
  }));

test("deleting a person's artefacts removes their sessions, sign-ins under way, grants and tokens, not others'", () =>
  withStore(async (store, t) => {
    const mine = 'acc-1';
    await save(t, 'Session', 'sess-1', { accountId: mine, authorizations: { budget: { sid: 'sid-1' } } });
    await save(t, 'Interaction', 'int-login', { session: { accountId: mine } });
    await save(t, 'Interaction', 'int-done', { result: { login: { accountId: mine } } });
    await save(t, 'Interaction', 'int-step', { result: { kluis: { step: { accountId: mine } } } });
    await save(t, 'Interaction', 'int-enrol', { result: { kluis: { enrolment: { accountId: mine } } } });
    await save(t, 'Grant', 'g-1', grantPayload(mine, 'budget', 100));
    await save(t, 'AccessToken', 'at-1', { grantId: 'g-1', accountId: mine, clientId: 'budget' });
    await store.recordUse('g-1', null);
    await save(t, 'Session', 'sess-2', { accountId: 'acc-2' });
    await save(t, 'Grant', 'g-2', grantPayload('acc-2', 'budget', 100));
    await store.recordUse('g-2', null);

    assert.equal(await store.deleteAccountArtefacts(mine), 7);
    assert.equal(await rowCount(t, 'select 1 from oidc_models'), 2);
    assert.deepEqual((await t.db.query(`select grant_id from grant_usage`)).rows, [{ grant_id: 'g-2' }]);
  }));

test("session ids are those of the person's live sessions the client took part in", () =>
  withStore(async (store, t) => {
    await save(t, 'Session', 's-1', { accountId: 'acc-1', authorizations: { budget: { sid: 'sid-1' } } });
    await save(t, 'Session', 's-2', { accountId: 'acc-1', authorizations: { budget: { sid: 'sid-2' }, shop: {} } });
    await save(t, 'Session', 's-3', { accountId: 'acc-1', authorizations: { shop: { sid: 'sid-3' } } });
    await save(t, 'Session', 's-4', { accountId: 'acc-2', authorizations: { budget: { sid: 'sid-4' } } });
    await save(t, 'Session', 's-5', { accountId: 'acc-1', authorizations: { budget: { sid: 'sid-5' } } });
    await t.db.query(`update oidc_models set expires_at = now() - interval '1 second' where model = 'Session'
      and payload->'authorizations'->'budget'->>'sid' = 'sid-5'`);
    assert.deepEqual((await store.sessionIds('acc-1', 'budget')).sort(), ['sid-1', 'sid-2']);
    assert.deepEqual(await store.sessionIds('acc-1', 'shop'), ['sid-3'], 'a session without a sid gives none');
    assert.deepEqual(await store.sessionIds('acc-3', 'budget'), []);
  }));

test("the ledger gives back what was appended, the person's own entries, newest first", () =>
  withStore(async (store) => {
    const resources = { 'https://api.example': ['read'] };
    const authorizationDetails = [
      { type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '50.00' }, creditorName: 'Acme BV' },
    ];
    const granted = entry('g-1', { action: 'granted', channel: 'consent_screen', resources, authorizationDetails });
    await store.appendLedger(granted);
    await store.appendLedger(entry('g-1', { action: 'revoked', channel: 'operator', clientName: null }));
    await store.appendLedger(entry('g-9', { accountId: 'acc-2' }));
    const ledger = await store.ledger('acc-1');
    assert.ok(ledger.every((row) => row.occurredAt instanceof Date));
    assert.deepEqual(
      ledger.map(({ occurredAt: _, ...rest }) => rest),
      [entry('g-1', { action: 'revoked', channel: 'operator', clientName: null }), granted],
    );
  }));

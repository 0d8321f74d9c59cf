import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import pg from 'pg';
import type { AdapterPayload } from 'oidc-provider';
import { M2M_METADATA, registerClient, relyingParty } from '../support/clients.ts';
import { PgAuditStore } from '../../src/db/audit-chain.ts';
import { createTestDatabase, type TestDatabase, withTestDatabase } from '../support/database.ts';
import { runCli, startTestKluis, type TestKluis } from '../support/kluis.ts';

// The audit log as an auditor and an attacker with database access see it.
let t: TestDatabase;
let kluis: TestKluis;
let client: AdapterPayload;
let env: Record<string, string>;

before(async () => {
  t = await createTestDatabase();
  env = { DATABASE_URL: t.url };
  client = await registerClient(t.url, M2M_METADATA);
  kluis = await startTestKluis(t.url);
});
after(async () => {
  await kluis?.stop();
  await t?.drop();
});

/** What a superuser with psql could do; the append-only trigger has to be switched off first. */
async function tamper(database: TestDatabase, sql: string, values: unknown[]) {
  await database.db.transaction(async (tx) => {
    await tx.query('alter table audit_events disable trigger audit_events_no_update_delete');
    await tx.query(sql, values);
    await tx.query('alter table audit_events enable trigger audit_events_no_update_delete');
  });
}

describe('tamper-evident audit log', () => {
  test('events written concurrently from two processes form one chain that verifies', async () => {
    const second = await startTestKluis(t.url);
    try {
      const rps = [await relyingParty(kluis.issuer, client), await relyingParty(second.issuer, client)];
      await Promise.all(Array.from({ length: 30 }, (_, i) => oidc.clientCredentialsGrant(rps[i % 2]!, {})));
    } finally {
      await second.stop();
    }
    const result = await runCli(['audit', 'verify'], env);
    assert.equal(result.code, 0, result.stderr);
    const verdict = JSON.parse(result.stdout) as { verified: boolean; events: number };
    assert.equal(verdict.verified, true);
    assert.ok(verdict.events >= 31, `${verdict.events} events`);
  });

  test('a transaction appending in several statements, one of them rolled back, while others append, keeps one chain', () =>
    withTestDatabase(async (own) => {
      const store = new PgAuditStore(own.db);
      const event = (type: string) => ({ type, actor: 'system', requestId: null });
      const writer = async () => {
        await own.db.transaction(async (tx) => {
          const inTx = new PgAuditStore(tx);
          await inTx.append([event('first'), event('second')]);
          await tx.query('savepoint undone');
          await inTx.append([event('rolled back')]);
          await tx.query('rollback to savepoint undone');
          await inTx.append([event('third')]);
        });
      };
      await Promise.all([writer(), store.append([event('other')]), writer(), store.append([event('other')])]);
      assert.deepEqual(await store.verify(), { ok: true, events: 8 });
      const { rows } = await own.db.query<{ seq: string }>('select seq from audit_events order by seq');
      assert.deepEqual(
        rows.map((row) => Number(row.seq)),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );
    }));

  test('tail and export print JSON lines in chain order, each with its hash', async () => {
    const rp = await relyingParty(kluis.issuer, client);
    await Promise.all(Array.from({ length: 30 }, () => oidc.clientCredentialsGrant(rp, {})));
    const tail = (await runCli(['audit', 'tail', '--limit', '5'], env)).stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { seq: number; hash: string; type: string });
    assert.equal(tail.length, 5);
    assert.deepEqual(
      tail.map((e) => e.seq),
      [...tail.map((e) => e.seq)].sort((a, b) => a - b),
    );
    assert.match(tail[0]!.hash, /^[0-9a-f]{64}$/);
    const exported = (await runCli(['audit', 'export'], env)).stdout.trim().split('\n');
    assert.ok(exported.length >= 31);
    assert.equal((JSON.parse(exported[0]!) as { seq: number }).seq, 1);
    const since = await runCli(['audit', 'export', '--since', '2999-01-01T00:00:00Z'], env);
    assert.equal(since.stdout, '');
    const bad = await runCli(['audit', 'export', '--since', 'yesterday'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^kluis: --since must be an ISO 8601 date/);
  });

  test('an edited row is caught by audit verify, which names it', async () => {
    // On a database of its own: the edit breaks the chain for every later verification.
    const fresh = await createTestDatabase();
    const own = await registerClient(fresh.url, M2M_METADATA);
    try {
      const server = await startTestKluis(fresh.url);
      try {
        const rp = await relyingParty(server.issuer, own);
        for (let i = 0; i < 5; i += 1) await oidc.clientCredentialsGrant(rp, {});
      } finally {
        await server.stop(); // writes out the audit events still queued
      }
      const { rows } = await fresh.db.query<{ seq: string; id: string }>(
        `select seq, id from audit_events where type = 'token.issued' order by seq limit 1 offset 3`,
      );
      const { seq, id } = rows[0]!;
      await tamper(
        fresh,
        `update audit_events set details = jsonb_set(details, '{scope}', '"everything"') where id = $1`,
        [id],
      );
      const result = await runCli(['audit', 'verify'], { DATABASE_URL: fresh.url });
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr,
        `kluis: audit chain broken at event ${seq} (id ${id}): its content does not match its hash; ${Number(seq) - 1} events before it verified\n`,
      );
    } finally {
      await fresh.drop();
    }
  });

  test('a deleted row leaves a gap that audit verify reports', async () => {
    const fresh = await createTestDatabase();
    try {
      const other = await registerClient(fresh.url, M2M_METADATA);
      await registerClient(fresh.url, M2M_METADATA);
      await tamper(fresh, 'delete from audit_events where client_id = $1', [other.client_id]);
      const result = await runCli(['audit', 'verify'], { DATABASE_URL: fresh.url });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /audit chain broken at event \d+ \(id \d+\): event \d+ is missing/);
    } finally {
      await fresh.drop();
    }
  });

  test('the kluis_server role can append to the audit log and the consent ledger but not change them; Kluis runs as it', async () => {
    const role = `kluis_test_${randomBytes(4).toString('hex')}`;
    await t.db.query(`create role ${role} login in role kluis_server`);
    const url = new URL(t.url);
    url.username = role;
    const restricted = new pg.Client({ connectionString: url.toString() });
    await restricted.connect();
    try {
      await assert.rejects(
        restricted.query(`update audit_events set actor = 'x'`),
        /permission denied for table audit_events/,
      );
      await assert.rejects(restricted.query('delete from audit_events'), /permission denied for table audit_events/);
      await assert.rejects(restricted.query('truncate audit_events'), /permission denied for table audit_events/);
      await assert.rejects(
        restricted.query('delete from consent_ledger'),
        /permission denied for table consent_ledger/,
      );

      // The server itself, connected as that role (migrations were applied by the owner): it issues tokens and audits.
      const server = await startTestKluis(url.toString());
      try {
        const { access_token } = await oidc.clientCredentialsGrant(await relyingParty(server.issuer, client), {});
        assert.ok(access_token);
      } finally {
        await server.stop();
      }
    } finally {
      await restricted.end();
      await t.db.query(`drop owned by ${role}`);
      await t.db.query(`drop role ${role}`);
    }
  });
});

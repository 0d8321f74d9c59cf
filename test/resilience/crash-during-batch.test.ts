import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { PgAuditStore } from '../../src/db/audit-chain.ts';
import { M2M_METADATA } from '../support/clients.ts';
import { withDatabase, type SeededDatabase } from '../support/fixture.ts';
import { spawnKluis, type KluisProcess } from '../support/kluis.ts';
import { storedRowId } from '../support/rows.ts';

// Issue 15: the token writes of the requests in flight are group-committed (src/db/group-commit.ts), one statement
// holding each token with its `token.issued` event (src/db/oidc-batches.ts). Killing the process mid-batch must leave
// every answered token stored with exactly one event, and no statement half-written.

/** Requests kept in flight, so that batches are forming and committing when the signal arrives. */
const IN_FLIGHT = 48;
/** Answers to wait for before the kill: well past start-up, with the process saturated. */
const ANSWERED_BEFORE_KILL = 150;
/** A kill lands between two statements only some of the time: several kills make a non-atomic write show. */
const KILLS = 3;

let house: SeededDatabase<'machine', never>;
let observer: pg.Client;
let basic: string;
const processes: KluisProcess[] = [];

before(async () => {
  house = await withDatabase({ clients: { machine: M2M_METADATA } });
  const { client_id, client_secret } = house.clients.machine;
  basic = `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}`;
  // Its own connection, told apart from Kluis's by name, to watch a killed process's backends end.
  observer = new pg.Client({ connectionString: house.database.url, application_name: 'crash-test-observer' });
  await observer.connect();
});
after(async () => {
  for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await observer?.end();
  await house?.stop();
});

const kluisBackends = async (): Promise<number[]> =>
  (
    await observer.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = current_database() and application_name = 'kluis'`,
    )
  ).rows.map((row) => row.pid);

const startKluis = async () => {
  const kluis = await spawnKluis({ DATABASE_URL: house.database.url });
  processes.push(kluis);
  const metadata = await fetch(new URL('/.well-known/openid-configuration', kluis.issuer));
  return { kluis, ...((await metadata.json()) as { token_endpoint: string; introspection_endpoint: string }) };
};

const post = (endpoint: string, body: string) =>
  fetch(endpoint, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });

interface Answer {
  token: string;
  requestId: string;
}

/**
 * Keeps IN_FLIGHT client-credentials requests going at `victim` and SIGKILLs it once ANSWERED_BEFORE_KILL are
 * answered; resolves when every request has its answer or was cut off.
 */
async function tokensUntilKilled(victim: KluisProcess, tokenEndpoint: string) {
  const answered: Answer[] = [];
  const refused: string[] = [];
  let unanswered = 0;
  let killed = false;
  const worker = async () => {
    while (!killed) {
      try {
        const response = await post(tokenEndpoint, 'grant_type=client_credentials');
        const text = await response.text();
        if (response.status !== 200) {
          refused.push(`${response.status} ${text}`);
          continue;
        }
        const { access_token } = JSON.parse(text) as { access_token: string };
        answered.push({ token: access_token, requestId: response.headers.get('x-request-id') ?? '' });
        if (answered.length >= ANSWERED_BEFORE_KILL && !killed) {
          killed = true;
          victim.child.kill('SIGKILL');
        }
      } catch {
        // Cut off by the kill: never answered (an answer whose body did not arrive whole counts here too).
        unanswered += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  assert.equal(await victim.exited, null, 'killed by the signal');
  assert.deepEqual(refused, [], 'every answer before the kill was a token');
  // The kill comes between two answers, IN_FLIGHT - 1 requests still out; some of those may be answered yet.
  assert.ok(unanswered < IN_FLIGHT, 'cut off are only requests in flight at the kill');
  return { answered, unanswered };
}

test('SIGKILL during group-committed token writes: every answered token is stored with one token.issued event, nothing half-written', {
  timeout: 600_000,
}, async (t) => {
  const db = house.database.db;
  // The test's own pool (migrations) connected before any Kluis; every other 'kluis' backend is a process's.
  const ours = new Set(await kluisBackends());
  const answered: Answer[] = [];
  let unanswered = 0;
  let current = await startKluis();
  for (let kill = 1; kill <= KILLS; kill += 1) {
    const round = await tokensUntilKilled(current.kluis, current.token_endpoint);
    answered.push(...round.answered);
    unanswered += round.unanswered;

    // A statement sent before the kill may still commit: count only once every backend of the process has ended.
    const deadline = Date.now() + 60_000;
    while ((await kluisBackends()).some((pid) => !ours.has(pid))) {
      assert.ok(Date.now() < deadline, 'the killed process still has database backends');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // Opaque and stored (no resource, so no JWT): otherwise there would be no row to write atomically.
    for (const { token } of round.answered) assert.doesNotMatch(token, /\./, 'an opaque access token');
    const reference = await db.query<{ payload: Record<string, unknown> }>(
      `select payload from oidc_models where model = 'ClientCredentials' and id = $1`,
      [await storedRowId(db, 'ClientCredentials', round.answered[0]!.token)],
    );
    assert.equal(reference.rowCount, 1, 'an answered token has its row');
    const shape = Object.keys(reference.rows[0]!.payload).sort();
    const rows = await db.query<{ payload: Record<string, unknown>; expires_at: Date | null }>(
      `select payload, expires_at from oidc_models where model = 'ClientCredentials'`,
    );
    const events = await db.query<{ request_id: string | null }>(
      `select request_id from audit_events where type = 'token.issued' and details->>'kind' = 'ClientCredentials'`,
    );
    t.diagnostic(
      `kill ${kill}: answered ${round.answered.length}, cut off ${round.unanswered}; ` +
        `in all answered ${answered.length}, cut off ${unanswered}, stored ${rows.rowCount}, events ${events.rowCount}`,
    );

    // Nothing half-written: a row never without its event nor an event without its row, and every row whole.
    assert.equal(rows.rowCount, events.rowCount, 'as many stored tokens as token.issued events');
    for (const row of rows.rows) {
      assert.deepEqual(Object.keys(row.payload).sort(), shape, 'a stored row has every field of a stored token');
      assert.equal(row.payload.kind, 'ClientCredentials');
      assert.equal(row.payload.clientId, house.clients.machine.client_id);
      assert.ok(row.expires_at, 'a stored token expires');
    }
    // Stored are the answered ones and at most those cut off.
    assert.ok(rows.rowCount! >= answered.length, 'every answered token is stored');
    assert.ok(rows.rowCount! <= answered.length + unanswered, 'nothing stored that was never asked for');

    // Each answered request has exactly one event, by the request id it was answered with.
    const perRequest = new Map<string, number>();
    for (const { request_id } of events.rows)
      perRequest.set(String(request_id), (perRequest.get(String(request_id)) ?? 0) + 1);
    for (const { requestId } of answered)
      assert.equal(perRequest.get(requestId), 1, `one token.issued for ${requestId}`);
    assert.equal((await new PgAuditStore(db).verify()).ok, true, 'the audit chain verifies');

    // A new process on the same database (the next one killed) accepts every answered token (RFC 7662 2.2).
    current = await startKluis();
    const queue = [...round.answered];
    const inactive: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const response = await post(
            current.introspection_endpoint,
            new URLSearchParams({ token: next.token }).toString(),
          );
          const body = (await response.json()) as { active?: boolean };
          if (response.status !== 200 || body.active !== true) inactive.push(next.requestId);
        }
      }),
    );
    assert.deepEqual(inactive, [], 'every answered token introspects active after the crash');
  }
});

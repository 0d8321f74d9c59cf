import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { ChangeCache } from '../../src/db/change-cache.ts';
import { addResourceServer, removeResourceServer, type ResourceServerRecord } from '../../src/db/resource-servers.ts';
import { createLogger } from '../../src/log/logger.ts';
import { type TestDatabase, withTestDatabase } from '../support/database.ts';

// The cache of clients and resource servers against real Postgres: what the triggers of migrations 0006 and 0011
// tell it, and what it serves while it cannot hear them. Each test on a database of its own.
const API = 'https://api.bank.example/cache';
const record = (ttl: number): ResourceServerRecord => ({
  identifier: API,
  scope: 'payments',
  accessTokenFormat: 'jwt',
  signingAlg: 'ES256',
  accessTokenTtl: ttl,
});

function withCache(work: (cache: ChangeCache, t: TestDatabase) => Promise<void>): Promise<void> {
  return withTestDatabase(async (t) => {
    const cache = new ChangeCache(t.url, createLogger('silent'));
    await cache.start();
    try {
      await work(cache, t);
    } finally {
      await cache.stop();
    }
  });
}

/** Waits (up to two seconds) until `check` holds: a notification arrives moments after the commit. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 2000; !check(); await sleep(10)) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within 2 s`);
  }
}

test('a cached resource server is served from memory until a change to its row, which every cache hears', () =>
  withCache(async (cache, t) => {
    const view = cache.resourceServers;
    await addResourceServer(t.db, record(300));
    view.set(API, record(300), view.generation(API));
    assert.deepEqual(view.get(API), { value: record(300) });
    await t.db.query('update resource_servers set access_token_ttl = 120 where identifier = $1', [API]);
    await eventually(() => view.get(API) === undefined, 'the update reaching the cache');
    view.set(API, record(120), view.generation(API));
    await removeResourceServer(t.db, API);
    await eventually(() => view.get(API) === undefined, 'the removal reaching the cache');
  }));

test('"no such resource server" is cached too, and an insert of it ends that', () =>
  withCache(async (cache, t) => {
    const view = cache.resourceServers;
    view.set(API, undefined, view.generation(API));
    assert.deepEqual(view.get(API), { value: undefined });
    await addResourceServer(t.db, record(300));
    await eventually(() => view.get(API) === undefined, 'the insert reaching the cache');
  }));

test('a lookup that began before a change does not store what it read', () =>
  withCache(async (cache, t) => {
    const view = cache.resourceServers;
    await addResourceServer(t.db, record(300));
    const generation = view.generation(API);
    await t.db.query('update resource_servers set access_token_ttl = 60 where identifier = $1', [API]);
    await eventually(() => view.generation(API) !== generation, 'the change reaching the cache');
    view.set(API, record(300), generation);
    assert.equal(view.get(API), undefined);
  }));

test('a change to a client or its disabled state reaches the client view, not the resource-server view', () =>
  withCache(async (cache, t) => {
    cache.clients.set('c1', { client_id: 'c1' }, cache.clients.generation('c1'));
    cache.resourceServers.set('c1', record(300), cache.resourceServers.generation('c1'));
    await t.db.query(`insert into disabled_clients (client_id) values ('c1')`);
    await eventually(() => cache.clients.get('c1') === undefined, 'the disabling reaching the client view');
    assert.ok(cache.resourceServers.get('c1'));
  }));

test('while its notification connection is down nothing is served from the cache, and it comes back on its own', () =>
  withCache(async (cache, t) => {
    const view = cache.resourceServers;
    view.set(API, record(300), view.generation(API));
    await t.db.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'kluis change cache'
                        and datname = current_database()`);
    await eventually(() => view.get(API) === undefined, 'the lost connection turning the cache off');
    view.set(API, record(300), view.generation(API));
    assert.equal(view.get(API), undefined, 'nothing is stored while not listening');
    await eventually(() => cache.listening, 'the cache listening again');
    view.set(API, record(300), view.generation(API));
    assert.deepEqual(view.get(API), { value: record(300) });
  }));

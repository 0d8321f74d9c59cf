import type { AdapterPayload } from 'oidc-provider';
import { addResourceServer, type NewResourceServer } from '../../src/clients/resource-servers.ts';
import { registerClient } from './clients.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { startTestKluis, type TestKluis } from './kluis.ts';
import { addPerson, type AddUserOptions } from './people.ts';

/** A person to add before Kluis starts, under the username that keys them. */
export interface PersonSpec extends AddUserOptions {
  password: string;
}

export type AddedPerson = Awaited<ReturnType<typeof addPerson>>;

export interface HouseOptions<C extends string, P extends string> {
  /** APIs (`kluis resources add`), stored first: clients' scopes and Kluis's scope list come from them. */
  resourceServers?: NewResourceServer[];
  /** Client metadata by a name the test picks, registered in this order as `kluis clients add` does. */
  clients?: Record<C, Record<string, unknown>>;
  /** People by username, added after the clients as `kluis users add` does. */
  people?: Record<P, PersonSpec>;
  /** Kluis's environment; the commands that register clients and people see it too, as an operator's CLI would. */
  env?: Record<string, string>;
}

export interface SeededDatabase<C extends string, P extends string> {
  database: TestDatabase;
  clients: Record<C, AdapterPayload>;
  people: Record<P, AddedPerson>;
  /** Tears down everything the fixture made; safe to call after a failed setup. */
  stop(): Promise<void>;
}

export interface KluisFixture<C extends string, P extends string> extends SeededDatabase<C, P> {
  kluis: TestKluis;
}

/** A fresh, migrated database with the given clients and people, for tests that run Kluis as processes. */
export async function withDatabase<C extends string = never, P extends string = never>(
  options: HouseOptions<C, P> = {},
): Promise<SeededDatabase<C, P>> {
  const database = await createTestDatabase();
  try {
    for (const server of options.resourceServers ?? []) await addResourceServer(database, server);
    const env = options.env ?? {};
    const clients = {} as Record<C, AdapterPayload>;
    for (const [name, metadata] of Object.entries(options.clients ?? {}) as [C, Record<string, unknown>][]) {
      clients[name] = await registerClient(database.url, metadata, env);
    }
    const people = {} as Record<P, AddedPerson>;
    for (const [username, { password, ...person }] of Object.entries(options.people ?? {}) as [P, PersonSpec][]) {
      people[username] = await addPerson(database.url, username, password, person, env);
    }
    return { database, clients, people, stop: () => database.drop() };
  } catch (err) {
    await database.drop();
    throw err;
  }
}

/**
 * Kluis in this process on a fresh database holding the given clients and people; `stop()` stops it and drops the
 * database. Use it with node:test `before`/`after`, or `t.after` for a test of its own.
 */
export async function withKluis<C extends string = never, P extends string = never>(
  options: HouseOptions<C, P> = {},
): Promise<KluisFixture<C, P>> {
  const seeded = await withDatabase(options);
  try {
    const kluis = await startTestKluis(seeded.database.url, options.env);
    return {
      ...seeded,
      kluis,
      async stop() {
        try {
          await kluis.stop();
        } finally {
          await seeded.stop();
        }
      },
    };
  } catch (err) {
    await seeded.stop();
    throw err;
  }
}

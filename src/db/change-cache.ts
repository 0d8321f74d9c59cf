import type { AdapterPayload } from 'oidc-provider';
import pg from 'pg';
import type { Logger } from '../log/logger.ts';
import type { ResourceServerRecord } from './resource-servers.ts';

/**
 * What one kind of cached row needs: a lookup that started before a change (a notification bumps the generation)
 * must not store what it read.
 */
export class CacheView<T> {
  readonly #owner: ChangeCache;
  readonly #ttlMs: number;
  readonly #entries = new Map<string, { value: T | undefined; at: number }>();
  readonly #generations = new Map<string, number>();

  constructor(owner: ChangeCache, ttlMs: number) {
    this.#owner = owner;
    this.#ttlMs = ttlMs;
  }

  /** A fresh cached entry (`{ value }`, possibly undefined for "no such row"), or undefined when not cached. */
  get(id: string): { value: T | undefined } | undefined {
    if (!this.#owner.listening) return undefined;
    const entry = this.#entries.get(id);
    if (!entry || Date.now() - entry.at > this.#ttlMs) return undefined;
    return { value: entry.value };
  }

  generation(id: string): number {
    return this.#generations.get(id) ?? 0;
  }

  set(id: string, value: T | undefined, generation: number): void {
    if (!this.#owner.listening || this.generation(id) !== generation) return;
    if (this.#entries.size > 10_000) this.#entries.clear();
    this.#entries.set(id, { value, at: Date.now() });
  }

  changed(id: string): void {
    this.#entries.delete(id);
    this.#generations.set(id, this.generation(id) + 1);
  }

  clear(): void {
    this.#entries.clear();
  }
}

// Migration 0006 notifies client changes, 0011 resource-server changes.
const CLIENT_CHANNEL = 'kluis_client_changed';
const RESOURCE_SERVER_CHANNEL = 'kluis_resource_server_changed';

/**
 * Rows the hot endpoints would otherwise read on every request (a token request reads its client, and its resource
 * server when it names one), kept in memory. Triggers NOTIFY every process when such a row changes (or a client is
 * disabled), and the entry goes at once; while the LISTEN connection is down nothing is served from the cache.
 * Entries also expire after `ttlMs` as a second line of defence.
 */
export class ChangeCache {
  readonly clients: CacheView<AdapterPayload>;
  readonly resourceServers: CacheView<ResourceServerRecord>;
  readonly #url: string;
  readonly #log: Logger;
  readonly #views: Map<string, CacheView<unknown>>;
  #client: pg.Client | undefined;
  #listening = false;
  #stopped = false;

  constructor(url: string, log: Logger, ttlMs = 30_000) {
    this.#url = url;
    this.#log = log;
    this.clients = new CacheView(this, ttlMs);
    this.resourceServers = new CacheView(this, ttlMs);
    this.#views = new Map<string, CacheView<unknown>>([
      [CLIENT_CHANNEL, this.clients],
      [RESOURCE_SERVER_CHANNEL, this.resourceServers],
    ]);
  }

  get listening(): boolean {
    return this.#listening;
  }

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url, application_name: 'kluis change cache' });
    client.on('notification', (message) => this.#views.get(message.channel)?.changed(message.payload ?? ''));
    const lost = () => {
      if (!this.#listening) return;
      this.#listening = false;
      this.#clear();
      if (this.#stopped) return;
      this.#log.warn('the cache lost its notification connection; caching is off until it is back');
      setTimeout(() => this.#reconnect(), 1000).unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    await client.connect();
    for (const channel of this.#views.keys()) await client.query(`listen ${channel}`);
    this.#client = client;
    this.#clear();
    this.#listening = true;
  }

  #clear(): void {
    for (const view of this.#views.values()) view.clear();
  }

  #reconnect(): void {
    if (this.#stopped) return;
    this.start().catch(() => setTimeout(() => this.#reconnect(), 1000).unref());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#listening = false;
    await this.#client?.end().catch(() => undefined);
  }
}

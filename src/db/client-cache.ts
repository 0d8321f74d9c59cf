import type { AdapterPayload } from 'oidc-provider';
import pg from 'pg';
import type { Logger } from '../log/logger.ts';

const CHANNEL = 'kluis_client_changed';

/**
 * Client metadata as the adapter found it, kept in memory so the hot endpoints (token, introspection) do not read
 * the client row on every request. A trigger (migration 0006) NOTIFYs every process when a client changes or is
 * disabled, and the entry goes at once; while the LISTEN connection is down nothing is served from the cache.
 * Entries also expire after `ttlMs` as a second line of defence.
 */
export class ClientCache {
  readonly #url: string;
  readonly #log: Logger;
  readonly #ttlMs: number;
  readonly #entries = new Map<string, { payload: AdapterPayload | undefined; at: number }>();
  // Bumped by every notification: a lookup that started before a change must not store what it read.
  readonly #generations = new Map<string, number>();
  #client: pg.Client | undefined;
  #listening = false;
  #stopped = false;

  constructor(url: string, log: Logger, ttlMs = 30_000) {
    this.#url = url;
    this.#log = log;
    this.#ttlMs = ttlMs;
  }

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url, application_name: 'kluis client cache' });
    client.on('notification', (message) => {
      const id = message.payload ?? '';
      this.#entries.delete(id);
      this.#generations.set(id, (this.#generations.get(id) ?? 0) + 1);
    });
    const lost = () => {
      if (!this.#listening) return;
      this.#listening = false;
      this.#entries.clear();
      if (this.#stopped) return;
      this.#log.warn('client cache lost its notification connection; caching is off until it is back');
      setTimeout(() => this.#reconnect(), 1000).unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    await client.connect();
    await client.query(`listen ${CHANNEL}`);
    this.#client = client;
    this.#entries.clear();
    this.#listening = true;
  }

  #reconnect(): void {
    if (this.#stopped) return;
    this.start().catch(() => setTimeout(() => this.#reconnect(), 1000).unref());
  }

  /** A fresh cached entry (`{ payload }`, possibly undefined for "no such client"), or undefined when not cached. */
  get(id: string): { payload: AdapterPayload | undefined } | undefined {
    if (!this.#listening) return undefined;
    const entry = this.#entries.get(id);
    if (!entry || Date.now() - entry.at > this.#ttlMs) return undefined;
    return { payload: entry.payload };
  }

  generation(id: string): number {
    return this.#generations.get(id) ?? 0;
  }

  set(id: string, payload: AdapterPayload | undefined, generation: number): void {
    if (!this.#listening || this.generation(id) !== generation) return;
    if (this.#entries.size > 10_000) this.#entries.clear();
    this.#entries.set(id, { payload, at: Date.now() });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#listening = false;
    await this.#client?.end().catch(() => undefined);
  }
}

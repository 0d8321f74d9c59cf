import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider from 'oidc-provider';
import type { AuditLog } from '../audit/writer.ts';
import { wireProviderEvents } from '../audit/provider-events.ts';
import type { Logger } from '../log/logger.ts';
import { providerConfiguration, type ProviderSettings } from './configuration.ts';
import { loadKeyRing } from './keys.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

interface Current {
  provider: Provider;
  handler: Handler;
  fingerprint: string;
}

export interface ProviderHostOptions extends Omit<ProviderSettings, 'keys'> {
  audit: AuditLog;
  log: Logger;
}

/**
 * Holds the live oidc-provider instance. oidc-provider reads its keys once, at construction; when the signing
 * keys change (a rotation, a pending key becoming active, a retired key expiring) a new Provider is built and
 * swapped in. Nothing is lost: all of its state is in Postgres. In-flight requests finish on the old instance.
 */
export class ProviderHost {
  #current: Current;
  readonly #options: ProviderHostOptions;
  #timer: NodeJS.Timeout | undefined;

  private constructor(options: ProviderHostOptions, current: Current) {
    this.#options = options;
    this.#current = current;
  }

  static async create(options: ProviderHostOptions): Promise<ProviderHost> {
    const keys = await loadKeyRing(options.db, options.secrets.box);
    return new ProviderHost(options, build(options, keys));
  }

  get provider(): Provider {
    return this.#current.provider;
  }

  /** Node request handler for the current provider. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.#current.handler(req, res);
  }

  /** Reloads the keys; rebuilds the provider if they changed. Returns true when it swapped. */
  async refresh(): Promise<boolean> {
    const keys = await loadKeyRing(this.#options.db, this.#options.secrets.box);
    if (keys.fingerprint === this.#current.fingerprint) return false;
    this.#current = build(this.#options, keys);
    this.#options.log.info({ keys: keys.fingerprint }, 'signing keys changed: provider rebuilt');
    return true;
  }

  /** Polls for key changes every `seconds`; a failed poll (database down) keeps the current keys. */
  startRefreshing(seconds: number): void {
    this.#timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.#options.log.warn({ err: (err as Error).message }, 'signing key refresh failed'));
    }, seconds * 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function build(options: ProviderHostOptions, keys: ProviderSettings['keys']): Current {
  const provider = new Provider(options.config.issuer, providerConfiguration({ ...options, keys }));
  // X-Forwarded-* are honoured only behind a proxy the operator declared (RFC 9700 4.x; checklist F4).
  provider.proxy = options.config.trustProxy;
  wireProviderEvents(provider, options.audit, options.log);
  const callback = provider.callback();
  return { provider, handler: (req, res) => callback(req, res) as unknown as Promise<void>, fingerprint: keys.fingerprint };
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type Koa from 'koa';
import type { Middleware } from 'koa';
import Provider from 'oidc-provider';
import type { Logger } from '../../log/logger.ts';
import { awaitAnswerAfter } from './answer-after.ts';
import { clientAuthStatus } from './client-auth-status.ts';
import { registrationResponses } from '../clients/registration.ts';
import { providerConfiguration } from './configuration.ts';
import type { ProviderSettings } from './configuration/settings.ts';
import { listResourceServers } from '../../db/resource-servers.ts';
import { loadKeyRing } from './keys.ts';
import { acceptRotatedSecrets } from '../clients/rotated-secrets.ts';
import { parUsedOnce } from './par-single-use.ts';
import { pairwiseSubject } from '../subjects/pairwise.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

interface Current {
  provider: Provider;
  handler: Handler;
  state: State;
}

/**
 * Listeners and middleware for a Provider, run on every one the host builds (a rebuilt provider starts bare). The
 * protocol knows neither the audit log nor the web's headers: the composition root attaches them here.
 */
export type ProviderPlugin = (provider: Provider) => void;

export interface ProviderHostOptions extends Omit<ProviderSettings, 'keys' | 'resourceScopes'> {
  log: Logger;
  plugins?: ProviderPlugin[] | undefined;
}

interface State {
  keys: ProviderSettings['keys'];
  resourceScopes: string[];
  fingerprint: string;
}

/** What oidc-provider takes at construction and Kluis keeps in the database: signing keys and API scopes. */
async function loadState({ db, secrets }: ProviderHostOptions): Promise<State> {
  const [keys, servers] = await Promise.all([loadKeyRing(db, secrets.box), listResourceServers(db)]);
  const resourceScopes = [...new Set(servers.flatMap((server) => server.scope.split(' ')))].sort();
  return { keys, resourceScopes, fingerprint: `${keys.fingerprint}|${resourceScopes.join(' ')}` };
}

/**
 * Holds the live oidc-provider instance. oidc-provider reads its keys and scopes once, at construction; when
 * they change (a key rotation, a pending key becoming active, a retired key expiring, a resource server added)
 * a new Provider is built and swapped in. Nothing is lost: all of its state is in Postgres. In-flight requests
 * finish on the old instance.
 */
export class ProviderHost {
  #current: Current;
  readonly #options: ProviderHostOptions;
  #pipeline: Middleware | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #pairwise: ReturnType<typeof pairwiseSubject>;

  private constructor(options: ProviderHostOptions, current: Current) {
    this.#options = options;
    this.#current = current;
    this.#pairwise = pairwiseSubject(options.secrets.pairwiseSalt);
  }

  static async create(options: ProviderHostOptions): Promise<ProviderHost> {
    return new ProviderHost(options, build(options, await loadState(options)));
  }

  get provider(): Provider {
    return this.#current.provider;
  }

  /**
   * Runs `pipeline` (Kluis's HTTP middleware and routes) first in this provider's Koa app and in every one built after
   * it, before the plugins' middleware and oidc-provider's router: each request gets one Koa app and one context.
   */
  serve(pipeline: Middleware): void {
    this.#pipeline = pipeline;
    const { provider, state } = this.#current;
    this.#current = { provider, state, handler: handlerOf(provider, pipeline) };
  }

  /**
   * The subject identifier `accountId` has for the client (pairwise or public, as in its ID tokens), e.g. to compare
   * with the `sub` of an id_token_hint; undefined for an unknown client.
   */
  async subjectFor(clientId: string, accountId: string): Promise<string | undefined> {
    const client = await this.provider.Client.find(clientId);
    if (!client) return undefined;
    // The ctx argument is unused by Kluis's pairwise function (subjects/pairwise.ts).
    return client.subjectType === 'pairwise' ? this.#pairwise(undefined as never, accountId, client) : accountId;
  }

  /** Node request handler for the current provider. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.#current.handler(req, res);
  }

  /** Reloads keys and scopes; rebuilds the provider if they changed. Returns true when it swapped. */
  async refresh(): Promise<boolean> {
    const state = await loadState(this.#options);
    if (state.fingerprint === this.#current.state.fingerprint) return false;
    this.#current = build(this.#options, state, this.#pipeline);
    this.#options.log.info({ state: state.fingerprint }, 'signing keys or scopes changed: provider rebuilt');
    return true;
  }

  /** Polls for changes every `seconds`; a failed poll (database down) keeps the current keys. */
  startRefreshing(seconds: number): void {
    this.#timer = setInterval(() => {
      this.refresh().catch((err: unknown) =>
        this.#options.log.warn({ err: (err as Error).message }, 'signing key refresh failed'),
      );
    }, seconds * 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function build(options: ProviderHostOptions, state: State, pipeline?: Middleware): Current {
  const { keys, resourceScopes } = state;
  const provider = new Provider(options.config.issuer, providerConfiguration({ ...options, keys, resourceScopes }));
  // X-Forwarded-* are honoured only behind a proxy the operator declared (RFC 9700 4.x; checklist F4); from any other
  // peer the HTTP pipeline has stripped them (http/proxy-trust.ts) before anything reads them. Behind a trusted proxy
  // only the last X-Forwarded-For entry (the address that proxy saw) is trusted: the entries before it come from the
  // client, and the per-IP sign-in throttle must not be dodged with them.
  provider.proxy = options.config.trustProxy;
  provider.maxIpsCount = 1;
  // What gets past every error boundary (a response stream that fails) is logged as JSON; without a listener Koa
  // would print it to stderr as plain text.
  (provider as Koa).on('error', (err: Error) => options.log.error({ err }, 'http error'));
  provider.use(awaitAnswerAfter);
  provider.use(clientAuthStatus);
  provider.use(parUsedOnce(provider, options.pages));
  provider.use(registrationResponses);
  acceptRotatedSecrets(provider, options.db, options.secrets.box);
  for (const plugin of options.plugins ?? []) plugin(provider);
  return { provider, state, handler: handlerOf(provider, pipeline) };
}

/**
 * The provider's Node request handler, with `pipeline` outermost: `provider.use` inserts middleware just before
 * oidc-provider's router, so the pipeline goes to the front of the app's middleware list itself.
 */
function handlerOf(provider: Provider, pipeline: Middleware | undefined): Handler {
  if (pipeline) provider.middleware.unshift(pipeline);
  const callback = provider.callback();
  return (req, res) => callback(req, res) as unknown as Promise<void>;
}

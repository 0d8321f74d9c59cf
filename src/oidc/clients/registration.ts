import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { errors, type Adapter, type AdapterFactory, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Config } from '../../config/env.ts';
import type { Database } from '../../db/database.ts';
import { PostgresAdapter } from '../../db/oidc-adapter.ts';
import type { SecretBox } from '../../secrets/secret-box.ts';
import { checkClientMetadata, checkRegistrableMetadata, OPERATOR_ONLY_METADATA } from './policy.ts';
import { AlreadyConsumed } from '../provider/errors.ts';
import { ProviderAdapter } from '../provider/adapter.ts';
import { verifySectorIdentifierUri } from './sector-identifier.ts';
import { SoftwareStatements } from './software-statement.ts';

/** Every initial access token carries this policy; its registration access tokens inherit it for RFC 7592 updates. */
export const REGISTRATION_POLICY = 'kluis:registration';
/** Added to single-use initial access tokens. */
export const SINGLE_USE_POLICY = 'kluis:single-use';

type Properties = Record<string, unknown>;

/**
 * RFC 7591 dynamic registration, only with an initial access token from `kluis iat create`, and RFC 7592
 * management with the registration access token (rotated at every update). The policies add what oidc-provider
 * does not do itself: software statements, sector_identifier_uri checks, pairwise-only subjects, single-use tokens.
 */
export function registrationFeatures(
  config: Pick<Config, 'registration' | 'production'>,
  db: Database,
  box: SecretBox,
  newClients: NewClients,
) {
  const statements = new SoftwareStatements(config.registration.softwareStatements);
  const initialAccessTokens = new ProviderAdapter(new PostgresAdapter('InitialAccessToken', db, box));
  const registrationAccessTokens = new ProviderAdapter(new PostgresAdapter('RegistrationAccessToken', db, box));

  async function registrationPolicy(ctx: KoaContextWithOIDC, properties: Properties): Promise<void> {
    const registered = ctx.oidc.client?.metadata().software_statement as string | undefined;
    await statements.apply(properties, registered);
    // Every rule judges the metadata as the statement left it: a directory's claims get no more trust than the
    // client's own.
    checkClientMetadata(properties, config.production);
    checkRegistrableMetadata(properties, config.production);
    for (const name of OPERATOR_ONLY_METADATA) {
      if (name in properties) throw new errors.InvalidClientMetadata(`${name} can only be set by the operator`);
    }
    // A client registered dynamically never receives a correlatable identifier (OIDC Core 8).
    if (properties.subject_type === 'public') {
      throw new errors.InvalidClientMetadata(
        'subject_type public is only for first-party clients registered by the operator',
      );
    }
    // The id is oidc-provider's fresh one at registration, the client's own at an update (RFC 7591 3.2.1, 7592 2.2).
    const assigned = (ctx.oidc.entities.RegistrationAccessToken as { clientId?: string } | undefined)?.clientId;
    if (assigned === undefined || properties.client_id !== assigned) {
      throw new errors.InvalidClientMetadata('client_id is assigned by the authorization server');
    }
    await verifySectorIdentifierUri(properties, config.production);
    if (ctx.oidc.entities.InitialAccessToken) {
      newClients.expect(assigned);
      return;
    }
    await claimRegistrationAccessToken(ctx, properties);
    newClients.expectUpdate(assigned);
  }

  /**
   * RFC 7592 3: an update rotates the registration access token, and oidc-provider does that as find, then destroy,
   * then save, so parallel updates with one token would each get a live new one. The token is claimed here, last,
   * with one conditional UPDATE: of parallel updates exactly one goes on to write the client and rotate the token,
   * and a token destroyed meanwhile (DELETE /reg, `clients remove`) claims nothing. The metadata is validated first
   * as oidc-provider will, so an update that fails anyway does not use the token up.
   */
  async function claimRegistrationAccessToken(ctx: KoaContextWithOIDC, properties: Properties): Promise<void> {
    new (ctx.oidc.provider.Client as unknown as new (metadata: Properties, ctx: unknown) => unknown)(properties, ctx);
    const rat = ctx.oidc.entities.RegistrationAccessToken as { jti: string };
    try {
      await registrationAccessTokens.consume(rat.jti);
    } catch (err) {
      if (err instanceof AlreadyConsumed) throw new errors.InvalidToken('registration access token was already used');
      throw err;
    }
  }

  async function singleUsePolicy(ctx: KoaContextWithOIDC, properties: Properties): Promise<void> {
    const iat = ctx.oidc.entities.InitialAccessToken;
    if (!iat) return; // an RFC 7592 update: the token was used at registration
    // Validate first, so a registration that fails anyway does not use the token up.
    new (ctx.oidc.provider.Client as unknown as new (metadata: Properties) => unknown)(properties);
    try {
      await initialAccessTokens.consume(iat.jti);
    } catch (err) {
      if (err instanceof AlreadyConsumed) throw new errors.InvalidToken('initial access token was already used');
      throw err;
    }
    const rat = ctx.oidc.entities.RegistrationAccessToken as { policies?: string[] } | undefined;
    if (rat) rat.policies = [REGISTRATION_POLICY];
  }

  return {
    registration: {
      enabled: true,
      // UUIDs, like the ids `clients add` gives: oidc-provider's default (nanoid) may begin with `-`, which an
      // operator's `kluis clients show <id>` would read as an option.
      idFactory: () => randomUUID(),
      initialAccessToken: true,
      issueRegistrationAccessToken: true,
      policies: { [REGISTRATION_POLICY]: registrationPolicy, [SINGLE_USE_POLICY]: singleUsePolicy },
    },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
  };
}

/** `kluis iat create`: an initial access token for one partner to register its clients with. */
export async function createInitialAccessToken(
  provider: Provider,
  { expiresIn, singleUse }: { expiresIn: number; singleUse: boolean },
) {
  const policies = singleUse ? [REGISTRATION_POLICY, SINGLE_USE_POLICY] : [REGISTRATION_POLICY];
  const token = new provider.InitialAccessToken({ expiresIn, policies });
  return { value: await token.save(), jti: token.jti };
}

/**
 * RFC 7591 3.2.1: a registration creates a client under a new client_id; it never replaces one. oidc-provider stores
 * every client with an upsert, so the ids of registrations under way are written with an insert instead, which
 * fails rather than overwrite a client that already has the id. Likewise an RFC 7592 update only ever changes the
 * existing row: a client removed while the update was under way stays removed.
 */
export class NewClients {
  /** Writes that passed the policy, by client_id, with kind and time; a failed one is forgotten after a minute. */
  readonly #pending = new Map<string, PendingWrite>();

  /** The next write of `clientId` is a registration's: insert only. */
  expect(clientId: string): void {
    this.#add(clientId, 'insert');
  }

  /** The next write of `clientId` is an RFC 7592 update's: change the existing row only. */
  expectUpdate(clientId: string): void {
    this.#add(clientId, 'replace');
  }

  #add(clientId: string, kind: PendingWrite['kind']): void {
    const now = Date.now();
    for (const [id, { since }] of this.#pending) if (now - since > 60_000) this.#pending.delete(id);
    this.#pending.set(clientId, { kind, since: now });
  }

  /** `factory`'s adapters, with the Client model's writes of registrations and updates under way made conditional. */
  adapters(factory: AdapterFactory): AdapterFactory {
    return (model: string) => {
      const adapter = factory(model);
      if (model !== 'Client' || !(adapter instanceof PostgresAdapter)) return adapter;
      return new ConditionalClientWrites(adapter, this.#pending);
    };
  }
}

interface PendingWrite {
  kind: 'insert' | 'replace';
  since: number;
}

class ConditionalClientWrites implements Adapter {
  readonly #clients: PostgresAdapter;
  readonly #pending: Map<string, PendingWrite>;

  constructor(clients: PostgresAdapter, pending: Map<string, PendingWrite>) {
    this.#clients = clients;
    this.#pending = pending;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const pending = this.#pending.get(id);
    this.#pending.delete(id);
    if (pending?.kind === 'insert' && !(await this.#clients.insert(id, payload))) {
      throw new errors.InvalidClientMetadata(`a client with id ${id} already exists`);
    }
    if (pending?.kind === 'replace' && !(await this.#clients.replace(id, payload))) {
      throw new errors.InvalidToken('the client was removed');
    }
    if (!pending) await this.#clients.upsert(id, payload, expiresIn);
  }

  find(id: string) {
    return this.#clients.find(id);
  }
  findByUid(uid: string) {
    return this.#clients.findByUid(uid);
  }
  findByUserCode(userCode: string) {
    return this.#clients.findByUserCode(userCode);
  }
  consume(id: string) {
    return this.#clients.consume(id);
  }
  destroy(id: string) {
    return this.#clients.destroy(id);
  }
  revokeByGrantId(grantId: string) {
    return this.#clients.revokeByGrantId(grantId);
  }
}

/**
 * RFC 7592 2.1 lets a read omit client_secret: Kluis shows a secret once, in the answer that issues it (the
 * registration, or the update that first makes a client confidential). A leaked registration access token then
 * does not also leak the secret.
 */
export const registrationResponses: Middleware = async (ctx, next) => {
  await next();
  const oidc = (ctx as unknown as Partial<KoaContextWithOIDC>).oidc;
  const body = ctx.body as Properties | undefined;
  if (!oidc || !body || typeof body !== 'object' || !('client_secret' in body)) return;
  const issuedNow = oidc.route === 'client_update' && !oidc.client?.clientSecret;
  if ((oidc.route === 'client' || oidc.route === 'client_update') && !issuedNow) delete body.client_secret;
};

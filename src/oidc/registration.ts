import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/database.ts';
import { PostgresAdapter } from '../db/oidc-adapter.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { checkClientMetadata } from './client-policy.ts';
import { AlreadyConsumed } from './errors.ts';
import { verifySectorIdentifierUri } from './sector-identifier.ts';
import { SoftwareStatements } from './software-statement.ts';

/** Every initial access token carries this policy; its registration access tokens inherit it for RFC 7592 updates. */
export const REGISTRATION_POLICY = 'kluis:registration';
/** Added to single-use initial access tokens. */
export const SINGLE_USE_POLICY = 'kluis:single-use';

type Properties = Record<string, unknown>;

/** Metadata only the operator may set (CLI); a dynamically registered client asking for it is refused. */
const OPERATOR_ONLY = ['introspect_any_token'];

/**
 * RFC 7591 dynamic registration, only with an initial access token from `kluis iat create`, and RFC 7592
 * management with the registration access token (rotated at every update). The policies add what oidc-provider
 * does not do itself: software statements, sector_identifier_uri checks, pairwise-only subjects, single-use tokens.
 */
export function registrationFeatures(config: Pick<Config, 'registration' | 'production'>, db: Database, box: SecretBox) {
  const statements = new SoftwareStatements(config.registration.softwareStatements);
  const initialAccessTokens = new PostgresAdapter('InitialAccessToken', db, box);

  async function registrationPolicy(ctx: KoaContextWithOIDC, properties: Properties): Promise<void> {
    checkClientMetadata(properties, config.production);
    for (const name of OPERATOR_ONLY) {
      if (name in properties) throw new errors.InvalidClientMetadata(`${name} can only be set by the operator`);
    }
    const registered = ctx.oidc.client?.metadata().software_statement as string | undefined;
    await statements.apply(properties, registered);
    // A client registered dynamically never receives a correlatable identifier (OIDC Core 8).
    if (properties.subject_type === 'public') {
      throw new errors.InvalidClientMetadata('subject_type public is only for first-party clients registered by the operator');
    }
    await verifySectorIdentifierUri(properties, config.production);
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
      initialAccessToken: true,
      issueRegistrationAccessToken: true,
      policies: { [REGISTRATION_POLICY]: registrationPolicy, [SINGLE_USE_POLICY]: singleUsePolicy },
    },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
  };
}

/** `kluis iat create`: an initial access token for one partner to register its clients with. */
export async function createInitialAccessToken(provider: Provider, { expiresIn, singleUse }: { expiresIn: number; singleUse: boolean }) {
  const policies = singleUse ? [REGISTRATION_POLICY, SINGLE_USE_POLICY] : [REGISTRATION_POLICY];
  const token = new provider.InitialAccessToken({ expiresIn, policies });
  return { value: await token.save(), jti: token.jti };
}

import { randomBytes } from 'node:crypto';
import { errors } from 'oidc-provider';
import type { AdapterPayload } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { checkClientMetadata, checkRegistrableMetadata } from '../oidc/clients/policy.ts';
import { verifySectorIdentifierUri } from '../oidc/clients/sector-identifier.ts';
import type { Metadata } from './deps.ts';
import { InvalidMetadata } from './errors.ts';

/** The parts of oidc-provider's Client class used here; public API that its typings leave out. */
interface ClientClass {
  new (metadata: AdapterPayload): { metadata(): AdapterPayload };
  needsSecret(metadata: AdapterPayload): boolean;
}

export const newSecret = () => randomBytes(32).toString('base64url');

export function needsSecret(provider: Provider, metadata: Metadata): boolean {
  return (provider.Client as unknown as ClientClass).needsSecret(metadata as AdapterPayload);
}

/** oidc-provider's validation plus Kluis's rules (oidc/clients/policy.ts) and the sector_identifier_uri check. */
export async function validatedClient(
  provider: Provider,
  metadata: Metadata,
  production: boolean,
): Promise<AdapterPayload> {
  const Client = provider.Client as unknown as ClientClass;
  let client: InstanceType<ClientClass>;
  try {
    checkClientMetadata(metadata, production);
    checkRegistrableMetadata(metadata, production);
    client = new Client(metadata as AdapterPayload);
    await verifySectorIdentifierUri(metadata, production);
  } catch (err) {
    if (err instanceof errors.OIDCProviderError) {
      throw new InvalidMetadata(`${err.error}: ${err.error_description ?? err.message}`, { cause: err });
    }
    throw err;
  }
  const stored = client.metadata() as AdapterPayload;
  // oidc-provider drops metadata it does not recognise; an operator's typo must not vanish silently.
  const unknown = Object.keys(metadata).filter((key) => !(key in stored));
  if (unknown.length) throw new InvalidMetadata(`unknown client metadata: ${unknown.join(', ')}`);
  return stored;
}

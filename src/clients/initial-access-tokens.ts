import { createHash } from 'node:crypto';
import { createInitialAccessToken } from '../oidc/clients/registration.ts';
import type { ClientDeps } from './deps.ts';

/** An initial access token for dynamic registration (RFC 7591 3), shown this once. */
export async function issueInitialAccessToken(
  { provider, audit }: Pick<ClientDeps, 'provider' | 'audit'>,
  { expiresIn, singleUse }: { expiresIn: number; singleUse: boolean },
) {
  const { value, jti } = await createInitialAccessToken(provider, { expiresIn, singleUse });
  // The token's id is its value: the audit log keeps only a hash prefix to tell tokens apart.
  await audit.record({
    type: 'initial_access_token.created',
    actor: 'operator',
    details: { expires_in: expiresIn, single_use: singleUse, id_hash: hashPrefix(jti) },
  });
  return {
    initial_access_token: value,
    expires_at: new Date(Date.now() + expiresIn * 1000).toISOString(),
    single_use: singleUse,
  };
}

function hashPrefix(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}

import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { SaveRecorder } from '../db/oidc-adapter.ts';
import { answerAfter } from '../oidc/provider/answer-after.ts';
import type { Logger } from '../log/logger.ts';
import type { AuditEvent } from './events.ts';
import type { AuditLog } from './writer.ts';
import type { GrantActivity } from '../consents/activity.ts';

/** The fields of oidc-provider token models the audit log keeps: identifiers of parties, never token values. */
interface TokenLike {
  kind: string;
  clientId?: string;
  accountId?: string;
  grantId?: string;
  scope?: string;
  gty?: string;
  aud?: string | string[];
  /** Lifetime in seconds (oidc-provider's BaseToken). */
  expiration?: number;
}

function tokenEvent(type: AuditEvent['type'], token: TokenLike): AuditEvent {
  return {
    type,
    actor: token.clientId ? `client:${token.clientId}` : 'system',
    clientId: token.clientId,
    accountId: token.accountId,
    grantId: token.grantId,
    details: {
      kind: token.kind,
      ...(token.scope ? { scope: token.scope } : {}),
      // Client credentials tokens carry no gty of their own.
      ...(token.gty
        ? { grant_type: token.gty }
        : token.kind === 'ClientCredentials'
          ? { grant_type: 'client_credentials' }
          : {}),
      ...(token.aud ? { audience: ([] as string[]).concat(token.aud) } : {}),
    },
  };
}

/** The token models (adapter model name → event prefix): each save of one is the issuance of a token or code. */
const TOKEN_MODELS = new Map([
  ['AccessToken', 'access_token'],
  ['ClientCredentials', 'client_credentials'],
  ['RefreshToken', 'refresh_token'],
  ['AuthorizationCode', 'authorization_code'],
  ['DeviceCode', 'device_code'],
  ['BackchannelAuthenticationRequest', 'backchannel_authentication_request'],
]);

/**
 * What a stored token's save writes in the token's own statement: its `token.issued` event and the use of its
 * grant. So a token that was answered has its audit event, even if the process dies right after (a queued event
 * would be lost), and the three writes are one commit.
 */
export function tokenSaves(audit: AuditLog): SaveRecorder {
  return (model, payload) =>
    TOKEN_MODELS.has(model)
      ? {
          audit: audit.rowFor(tokenEvent('token.issued', payload as TokenLike)),
          grantUsed: typeof payload.grantId === 'string' ? payload.grantId : undefined,
        }
      : undefined;
}

/**
 * The one place provider events reach the audit log (with {@link tokenSaves}). `saved` covers opaque tokens (stored), `issued` covers
 * JWT-format tokens (not stored); `destroyed` is a revocation; `consumed` a redeemed code or rotated refresh token.
 */
export function wireProviderEvents(provider: Provider, audit: AuditLog, log: Logger, grants: GrantActivity): void {
  // The per-model events are built from names, which the typings cannot check: use the plain emitter view.
  const events = provider as unknown as NodeJS.EventEmitter;
  const failed = (what: string) => (err: unknown) =>
    log.warn({ err: (err as Error).message }, `${what} could not be recorded`);
  for (const model of TOKEN_MODELS.values()) {
    // Written with the token itself (tokenSaves); the listeners (metrics) hear of it once it is stored.
    events.on(`${model}.saved`, (token: TokenLike) => audit.announce(tokenEvent('token.issued', token)));
    // Not stored (JWT format): it cannot be recalled, so the grant remembers until when it works.
    events.on(`${model}.issued`, (token: TokenLike) => {
      audit.recordLater(tokenEvent('token.issued', token));
      const until = new Date(Date.now() + (token.expiration ?? 0) * 1000);
      if (token.grantId) answerAfter(grants.tokenIssued(token.grantId, until).catch(failed('grant use')));
    });
    events.on(`${model}.destroyed`, (token: TokenLike) => audit.recordLater(tokenEvent('token.revoked', token)));
    events.on(`${model}.consumed`, (token: TokenLike) => audit.recordLater(tokenEvent('token.consumed', token)));
  }

  // RFC 7591/7592: clients registering, updating and deleting themselves.
  const registration =
    (type: AuditEvent['type'], via: string) =>
    (_ctx: KoaContextWithOIDC, client: { clientId: string; metadata(): Record<string, unknown> }) =>
      audit.recordLater({
        type,
        actor: `client:${client.clientId}`,
        clientId: client.clientId,
        details: {
          via,
          ...(client.metadata().software_id ? { software_id: String(client.metadata().software_id) } : {}),
        },
      });
  events.on('registration_create.success', registration('client.created', 'registration'));
  events.on('registration_update.success', registration('client.updated', 'registration management'));
  events.on('registration_delete.success', registration('client.removed', 'registration management'));

  // oidc-provider revokes a grant when its client revokes a refresh token (RFC 7009) or a code is replayed.
  provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
    const client = ctx.oidc?.client;
    const clientId = client?.clientId;
    audit.recordLater({
      type: 'grant.revoked',
      actor: clientId ? `client:${clientId}` : 'system',
      clientId,
      grantId,
      details: { channel: 'client' },
    });
    const entities = ctx.oidc?.entities;
    const token = (entities?.RefreshToken ?? entities?.AccessToken ?? entities?.AuthorizationCode) as
      | TokenLike
      | undefined;
    if (client && token?.accountId) {
      grants
        .revokedByClient({
          accountId: token.accountId,
          clientId: client.clientId,
          clientName: client.clientName ?? null,
          grantId,
          scope: token.scope ?? '',
        })
        .catch(failed('consent ledger entry'));
    }
  });

  provider.on('server_error', (ctx: KoaContextWithOIDC, err: Error) => {
    log.error({ err, route: ctx.oidc?.route, path: ctx.path }, 'server error in provider');
    audit.recordLater({
      type: 'server.error',
      actor: 'system',
      clientId: ctx.oidc?.client?.clientId,
      details: { route: ctx.oidc?.route ?? ctx.path, error: err.name },
    });
  });
}

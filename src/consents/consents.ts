import type { AdapterPayload } from 'oidc-provider';
import type { AuditLog } from '../audit/writer.ts';
import type { LedgerAction, LedgerChannel, LedgerEntry, LedgerRow } from '../db/consent-ledger.ts';
import type { Database } from '../db/database.ts';
import { type GrantStore, PgGrantStore, type StoredGrant } from '../db/grants.ts';
import { PostgresAdapter } from '../db/oidc-adapter.ts';
import type { Logger } from '../log/logger.ts';
import type { ProviderHost } from '../oidc/provider/host.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { ACCOUNT_CLIENT_ID } from '../oidc/clients/account-client.ts';
import { KluisError } from '../errors.ts';

/** A consent with what the person needs to recognise the client. */
export interface ConsentView extends StoredGrant {
  clientName: string;
  clientUri: string | undefined;
  policyUri: string | undefined;
  tosUri: string | undefined;
}

export class ConsentNotFound extends KluisError {
  override name = 'ConsentNotFound';
  readonly code = 'ERR_CONSENT_NOT_FOUND';
  override readonly status = 404;
}

/** Who withdrew a consent, for the ledger and the audit log. */
export type Revoker = { channel: 'account_area' | 'account_deletion'; accountId: string } | { channel: 'operator' };

/**
 * A person's consents (oidc-provider Grants) and their withdrawal. Revoking destroys the grant and every token, code
 * and device or CIBA request issued under it in one transaction (GDPR Art 7(3): withdrawing is as easy as giving and
 * takes effect at once), appends to the consent ledger, and tells the client over back-channel logout if it asked to
 * be told. Kluis's own account-area client is not a consent anybody gave, so it is not listed.
 */
export class Consents {
  readonly #grants: GrantStore;
  readonly #host: ProviderHost;
  readonly #audit: AuditLog;
  readonly #log: Logger;
  readonly #clients: PostgresAdapter;

  constructor(db: Database, box: SecretBox, host: ProviderHost, audit: AuditLog, log: Logger) {
    this.#grants = new PgGrantStore(db);
    this.#host = host;
    this.#audit = audit;
    this.#log = log;
    this.#clients = new PostgresAdapter('Client', db, box, { includeDisabled: true });
  }

  async list(accountId: string): Promise<ConsentView[]> {
    const grants = (await this.#grants.grantsOf(accountId)).filter((grant) => grant.clientId !== ACCOUNT_CLIENT_ID);
    return Promise.all(grants.map((grant) => this.#describe(grant)));
  }

  async get(accountId: string, grantId: string): Promise<ConsentView> {
    const grant = await this.#grants.grantOf(accountId, grantId);
    if (!grant || grant.clientId === ACCOUNT_CLIENT_ID) throw new ConsentNotFound('no such consent');
    return this.#describe(grant);
  }

  /**
   * After the consent screen: records the grant as it now stands (first consent, or more scopes on an existing one).
   */
  async recordDecision(
    accountId: string,
    grantId: string,
    action: Extract<LedgerAction, 'granted' | 'changed'>,
  ): Promise<void> {
    const grant = await this.#grants.grantOf(accountId, grantId);
    if (!grant) return;
    const client = await this.#clients.find(grant.clientId);
    await this.#grants.appendLedger(ledgerEntry(grant, client, action, 'consent_screen'));
  }

  /**
   * Withdraws one consent. Returns when JWT access tokens already issued under it stop working (they cannot be
   * recalled).
   */
  async revoke(
    accountId: string,
    grantId: string,
    by: Revoker,
  ): Promise<{ consent: ConsentView; jwtAccessUntil: Date | null }> {
    const consent = await this.get(accountId, grantId);
    const client = await this.#clients.find(consent.clientId);
    const removed = await this.#grants.withdraw(grantId, ledgerEntry(consent, client, 'revoked', by.channel));
    await this.#audit.record({
      type: 'grant.revoked',
      actor: by.channel === 'operator' ? 'operator' : `account:${accountId}`,
      accountId,
      clientId: consent.clientId,
      grantId,
      details: { channel: by.channel, artefacts_revoked: removed },
    });
    await this.#notify(accountId, consent.clientId);
    const until = consent.jwtAccessUntil;
    const jwtAccessUntil = until && until.getTime() > Date.now() ? until : null;
    return { consent, jwtAccessUntil };
  }

  /** The person's consent history (GDPR Art 7(1): consent given can be shown), newest first. */
  history(accountId: string): Promise<LedgerRow[]> {
    return this.#grants.ledger(accountId);
  }

  async revokeAll(accountId: string, by: Revoker): Promise<number> {
    const consents = await this.list(accountId);
    for (const consent of consents) await this.revoke(accountId, consent.id, by);
    return consents.length;
  }

  async #describe(grant: StoredGrant): Promise<ConsentView> {
    const client = await this.#clients.find(grant.clientId);
    const link = (value: unknown) => (typeof value === 'string' && /^https?:\/\//.test(value) ? value : undefined);
    return {
      ...grant,
      clientName: typeof client?.client_name === 'string' ? client.client_name : grant.clientId,
      clientUri: link(client?.client_uri),
      policyUri: link(client?.policy_uri),
      tosUri: link(client?.tos_uri),
    };
  }

  /** OpenID Connect Back-Channel Logout 1.0: one logout token per session of the person that the client was part of. */
  async #notify(accountId: string, clientId: string): Promise<void> {
    const client = await this.#host.provider.Client.find(clientId);
    const backchannel = client as unknown as
      | { backchannelLogoutUri?: string; backchannelLogout(sub: string, sid?: string): Promise<void> }
      | undefined;
    if (!backchannel?.backchannelLogoutUri) return;
    const sids = await this.#grants.sessionIds(accountId, clientId);
    for (const sid of sids.length ? sids : [undefined]) {
      await backchannel
        .backchannelLogout(accountId, sid)
        .catch((err: unknown) =>
          this.#log.warn(
            { err: (err as Error).message, clientId },
            'back-channel logout after a revoked consent failed',
          ),
        );
    }
  }
}

function ledgerEntry(
  grant: StoredGrant,
  client: AdapterPayload | undefined,
  action: LedgerAction,
  channel: LedgerChannel,
): LedgerEntry {
  return {
    accountId: grant.accountId,
    clientId: grant.clientId,
    clientName: typeof client?.client_name === 'string' ? client.client_name : null,
    grantId: grant.id,
    action,
    channel,
    scopes: grant.scopes,
    claims: grant.claims,
    resources: grant.resources,
    // What an open banking consent authorised is written when it is given; a withdrawal does not copy it again.
    authorizationDetails: action === 'revoked' ? [] : grant.authorizationDetails,
  };
}

/** A consent as data (CLI output, the person's export). */
export function consentRecord(consent: ConsentView) {
  return {
    grant_id: consent.id,
    client_id: consent.clientId,
    client_name: consent.clientName,
    scopes: consent.scopes,
    claims: consent.claims,
    resources: consent.resources,
    authorization_details: consent.authorizationDetails,
    granted_at: consent.grantedAt.toISOString(),
    last_used_at: consent.lastUsedAt?.toISOString() ?? null,
    expires_at: consent.expiresAt?.toISOString() ?? null,
  };
}

import { appendLedger, ledgerFor, type LedgerEntry, type LedgerRow } from './consent-ledger.ts';
import type { Database, Queryable } from './database.ts';
import { payloadSql } from './oidc-payloads.ts';

const row = payloadSql();
const grant = payloadSql('g');

/** A live consent as the account area shows it. */
export interface StoredGrant {
  id: string;
  accountId: string;
  clientId: string;
  scopes: string[];
  claims: string[];
  resources: Record<string, string[]>;
  /** Open banking authorization details (RFC 9396): a payment, access to accounts. */
  authorizationDetails: Record<string, unknown>[];
  grantedAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  jwtAccessUntil: Date | null;
}

/**
 * The consents people gave (oidc-provider Grants), what was issued under them, and the consent ledger. Every method
 * is whole on its own: what must happen together happens in one transaction. Contract: test/contract/grants.test.ts.
 */
export interface GrantStore {
  /** The newest live grant of `accountId` to `clientId` a sign-in may reuse; never an open banking one. */
  reusableGrantId(accountId: string, clientId: string): Promise<string | undefined>;
  /** Every live grant of the person, newest first; those of the same second by grant id, so the list never shuffles. */
  grantsOf(accountId: string): Promise<StoredGrant[]>;
  /** One live grant, only if it belongs to `accountId` (a person can never act on another person's grant). */
  grantOf(accountId: string, grantId: string): Promise<StoredGrant | undefined>;
  /** A token was issued under the grant; a JWT access token extends how long access can outlive a revocation. */
  recordUse(grantId: string, jwtAccessUntil: Date | null): Promise<void>;
  /**
   * Deletes the grant and everything issued under it (access and refresh tokens, codes, device and CIBA requests)
   * and appends `entry` to the ledger, all or nothing. Returns how many oidc-provider rows went.
   */
  withdraw(grantId: string, entry: LedgerEntry): Promise<number>;
  /** Deletes every oidc-provider row of the person (see {@link deleteAccountArtefacts}). Returns how many went. */
  deleteAccountArtefacts(accountId: string): Promise<number>;
  /** The `sid`s of the person's live sessions that `clientId` took part in. */
  sessionIds(accountId: string, clientId: string): Promise<string[]>;
  appendLedger(entry: LedgerEntry): Promise<void>;
  /** The person's consent history, newest first. */
  ledger(accountId: string): Promise<LedgerRow[]>;
}

export class PgGrantStore implements GrantStore {
  readonly #db: Pick<Database, 'query' | 'transaction'>;

  constructor(db: Pick<Database, 'query' | 'transaction'>) {
    this.#db = db;
  }

  /** From any session: the consent screen is not shown again for what the person already granted. */
  async reusableGrantId(accountId: string, clientId: string): Promise<string | undefined> {
    const { rows } = await this.#db.query<{ id: string }>(
      `select id from oidc_models
       where model = 'Grant' and ${row.accountId} = $1 and ${row.clientId} = $2
         and (expires_at is null or expires_at > now()) and not (${row.hasAuthorizationDetails})
       order by ${row.issuedAt} desc limit 1`,
      [accountId, clientId],
    );
    return rows[0]?.id;
  }

  async grantsOf(accountId: string): Promise<StoredGrant[]> {
    const { rows } = await this.#db.query<GrantRow>(
      `${GRANT_SELECT} and ${grant.accountId} = $1 order by ${grant.issuedAt} desc, g.id desc`,
      [accountId],
    );
    return rows.map(toGrant);
  }

  async grantOf(accountId: string, grantId: string): Promise<StoredGrant | undefined> {
    const { rows } = await this.#db.query<GrantRow>(`${GRANT_SELECT} and ${grant.accountId} = $1 and g.id = $2`, [
      accountId,
      grantId,
    ]);
    return rows[0] ? toGrant(rows[0]) : undefined;
  }

  async recordUse(grantId: string, jwtAccessUntil: Date | null): Promise<void> {
    await this.#db.query(
      `insert into grant_usage (grant_id, last_used_at, jwt_access_until) values ($1, now(), $2)
       on conflict (grant_id) do update set last_used_at = now(),
         jwt_access_until = greatest(grant_usage.jwt_access_until, excluded.jwt_access_until)`,
      [grantId, jwtAccessUntil],
    );
  }

  withdraw(grantId: string, entry: LedgerEntry): Promise<number> {
    return this.#db.transaction(async (tx) => {
      const removed = await deleteGrantChain(tx, grantId);
      await appendLedger(tx, entry);
      return removed;
    });
  }

  deleteAccountArtefacts(accountId: string): Promise<number> {
    return this.#db.transaction((tx) => deleteAccountArtefacts(tx, accountId));
  }

  async sessionIds(accountId: string, clientId: string): Promise<string[]> {
    const { rows } = await this.#db.query<{ sid: string | null }>(
      `select ${row.sessionSidFor('$2')} as sid from oidc_models
       where model = 'Session' and ${row.accountId} = $1 and ${row.sessionHasClient('$2')}
         and (expires_at is null or expires_at > now())`,
      [accountId, clientId],
    );
    return rows.map((found) => found.sid).filter((sid): sid is string => !!sid);
  }

  appendLedger(entry: LedgerEntry): Promise<void> {
    return appendLedger(this.#db, entry);
  }

  ledger(accountId: string): Promise<LedgerRow[]> {
    return ledgerFor(this.#db, accountId);
  }
}

type GrantRow = {
  id: string;
  payload: {
    accountId: string;
    clientId: string;
    iat: number;
    openid?: { scope?: string; claims?: string[] };
    resources?: Record<string, string>;
    rar?: Record<string, unknown>[];
  };
  expires_at: Date | null;
  last_used_at: Date | null;
  jwt_access_until: Date | null;
};

const GRANT_SELECT = `
  select g.id, g.payload, g.expires_at, u.last_used_at, u.jwt_access_until
  from oidc_models g left join grant_usage u on u.grant_id = g.id
  where g.model = 'Grant' and (g.expires_at is null or g.expires_at > now())`;

function toGrant(found: GrantRow): StoredGrant {
  const split = (value: string | undefined) => (value ? value.split(' ').filter(Boolean) : []);
  const resources = Object.entries(found.payload.resources ?? {}).map(([resource, scope]) => [resource, split(scope)]);
  return {
    id: found.id,
    accountId: found.payload.accountId,
    clientId: found.payload.clientId,
    scopes: split(found.payload.openid?.scope),
    claims: found.payload.openid?.claims ?? [],
    resources: Object.fromEntries(resources),
    authorizationDetails: found.payload.rar ?? [],
    grantedAt: new Date(found.payload.iat * 1000),
    expiresAt: found.expires_at,
    lastUsedAt: found.last_used_at,
    jwtAccessUntil: found.jwt_access_until,
  };
}

/** Deletes the grant and everything issued under it. Run it in a transaction. Returns how many rows went. */
async function deleteGrantChain(tx: Queryable, grantId: string): Promise<number> {
  const chain = await tx.query(`delete from oidc_models where grant_id = $1 and model <> 'Grant'`, [grantId]);
  const deleted = await tx.query(`delete from oidc_models where model = 'Grant' and id = $1`, [grantId]);
  await tx.query('delete from grant_usage where grant_id = $1', [grantId]);
  return (chain.rowCount ?? 0) + (deleted.rowCount ?? 0);
}

/**
 * Deletes every oidc-provider row that belongs to the person: sessions, interactions (also a sign-in or enrolment
 * under way, known only by Kluis's own state in it), grants and everything issued under them (including Kluis's own
 * account-area grant, which the consent list leaves out). Run it in a transaction. Returns how many went.
 */
export async function deleteAccountArtefacts(tx: Queryable, accountId: string): Promise<number> {
  await tx.query(
    `delete from grant_usage where grant_id in (
       select id from oidc_models where model = 'Grant' and ${row.accountId} = $1)`,
    [accountId],
  );
  const { rowCount } = await tx.query(`delete from oidc_models where ${row.belongsTo('$1')}`, [accountId]);
  return rowCount ?? 0;
}

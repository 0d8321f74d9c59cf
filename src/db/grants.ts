import type { Queryable } from './database.ts';

/**
 * The newest live Grant (consent) of `accountId` to `clientId`, from any session. Open banking grants (with
 * authorization details) are never reused, so they are left out.
 */
export async function findGrantId(db: Queryable, accountId: string, clientId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `select id from oidc_models
     where model = 'Grant' and payload->>'accountId' = $1 and payload->>'clientId' = $2
       and (expires_at is null or expires_at > now()) and not (payload ? 'rar')
     order by (payload->>'iat')::bigint desc limit 1`,
    [accountId, clientId],
  );
  return rows[0]?.id;
}

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

function toGrant(row: GrantRow): StoredGrant {
  const split = (value: string | undefined) => (value ? value.split(' ').filter(Boolean) : []);
  return {
    id: row.id,
    accountId: row.payload.accountId,
    clientId: row.payload.clientId,
    scopes: split(row.payload.openid?.scope),
    claims: row.payload.openid?.claims ?? [],
    resources: Object.fromEntries(Object.entries(row.payload.resources ?? {}).map(([resource, scope]) => [resource, split(scope)])),
    authorizationDetails: row.payload.rar ?? [],
    grantedAt: new Date(row.payload.iat * 1000),
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    jwtAccessUntil: row.jwt_access_until,
  };
}

/** Every live grant of the person, newest first. */
export async function grantsOf(db: Queryable, accountId: string): Promise<StoredGrant[]> {
  const { rows } = await db.query<GrantRow>(`${GRANT_SELECT} and g.payload->>'accountId' = $1 order by (g.payload->>'iat')::bigint desc`, [accountId]);
  return rows.map(toGrant);
}

/** One live grant, only if it belongs to `accountId` (a person can never act on another person's grant). */
export async function grantOf(db: Queryable, accountId: string, grantId: string): Promise<StoredGrant | undefined> {
  const { rows } = await db.query<GrantRow>(`${GRANT_SELECT} and g.payload->>'accountId' = $1 and g.id = $2`, [accountId, grantId]);
  return rows[0] ? toGrant(rows[0]) : undefined;
}

/**
 * Deletes the grant and everything issued under it: access and refresh tokens, codes, device and CIBA requests.
 * Run it in a transaction. Returns how many rows went.
 */
export async function deleteGrantChain(tx: Queryable, grantId: string): Promise<number> {
  const chain = await tx.query(`delete from oidc_models where grant_id = $1 and model <> 'Grant'`, [grantId]);
  const grant = await tx.query(`delete from oidc_models where model = 'Grant' and id = $1`, [grantId]);
  await tx.query('delete from grant_usage where grant_id = $1', [grantId]);
  return (chain.rowCount ?? 0) + (grant.rowCount ?? 0);
}

/**
 * Deletes every oidc-provider row that belongs to the person: sessions, interactions (also a sign-in or enrolment
 * under way, known only by Kluis's own state in it), grants and everything issued under them (including Kluis's own
 * account-area grant, which the consent list leaves out). Returns how many went.
 */
export async function deleteAccountArtefacts(tx: Queryable, accountId: string): Promise<number> {
  await tx.query(
    `delete from grant_usage where grant_id in (
       select id from oidc_models where model = 'Grant' and payload->>'accountId' = $1)`,
    [accountId],
  );
  const { rowCount } = await tx.query(
    `delete from oidc_models
     where payload->>'accountId' = $1
        or payload->'session'->>'accountId' = $1
        or payload->'result'->'login'->>'accountId' = $1
        or payload->'result'->'kluis'->'step'->>'accountId' = $1
        or payload->'result'->'kluis'->'enrolment'->>'accountId' = $1`,
    [accountId],
  );
  return rowCount ?? 0;
}

/** A token was issued under the grant; a JWT access token extends how long access can outlive a revocation. */
export async function recordGrantUse(db: Queryable, grantId: string, jwtAccessUntil: Date | null): Promise<void> {
  await db.query(
    `insert into grant_usage (grant_id, last_used_at, jwt_access_until) values ($1, now(), $2)
     on conflict (grant_id) do update set last_used_at = now(),
       jwt_access_until = greatest(grant_usage.jwt_access_until, excluded.jwt_access_until)`,
    [grantId, jwtAccessUntil],
  );
}

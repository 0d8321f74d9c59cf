import type { Queryable } from './database.ts';

/** The newest live Grant (consent) of `accountId` to `clientId`, from any session. */
export async function findGrantId(db: Queryable, accountId: string, clientId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `select id from oidc_models
     where model = 'Grant' and payload->>'accountId' = $1 and payload->>'clientId' = $2
       and (expires_at is null or expires_at > now())
     order by (payload->>'iat')::bigint desc limit 1`,
    [accountId, clientId],
  );
  return rows[0]?.id;
}

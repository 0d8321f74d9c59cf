import type { Queryable } from './database.ts';

/** Operator controls over a client kept outside its metadata (migration 0003): disabled state and rotated secrets. */

/**
 * Disables the client and, in the same statement, revokes every code and token issued to it (access, refresh,
 * client-credentials, PAR), so enabling it again revives none of them. Its grants (the consents people gave) and its
 * registration access token stay: disabling is a suspension; a compromised client is removed (`clients remove`).
 */
export async function disableClient(db: Queryable, clientId: string): Promise<boolean> {
  const { rows } = await db.query<{ disabled: string }>(
    `with disabled as (insert into disabled_clients (client_id) values ($1) on conflict do nothing returning 1),
          revoked as (delete from oidc_models
                      where model not in ('Client', 'Grant', 'Session', 'Interaction', 'RegistrationAccessToken')
                        and payload->>'clientId' = $1)
     select count(*) as disabled from disabled`,
    [clientId],
  );
  return Number(rows[0]?.disabled) === 1;
}

export async function enableClient(db: Queryable, clientId: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from disabled_clients where client_id = $1', [clientId]);
  return rowCount === 1;
}

export async function disabledClientIds(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query<{ client_id: string }>('select client_id from disabled_clients');
  return new Set(rows.map((row) => row.client_id));
}

/** Keeps `secretEncrypted` valid for `graceSeconds`; expired entries of the client are dropped on the way. */
export async function keepPreviousSecret(db: Queryable, clientId: string, secretEncrypted: string, graceSeconds: number): Promise<void> {
  await db.query('delete from previous_client_secrets where client_id = $1 and expires_at <= now()', [clientId]);
  if (graceSeconds > 0) {
    await db.query(
      `insert into previous_client_secrets (client_id, secret_encrypted, expires_at)
       values ($1, $2, now() + make_interval(secs => $3::float8))`,
      [clientId, secretEncrypted, graceSeconds],
    );
  }
}

/** The encrypted secrets of `clientId` still inside their grace period. */
export async function previousSecrets(db: Queryable, clientId: string): Promise<string[]> {
  const { rows } = await db.query<{ secret_encrypted: string }>(
    'select secret_encrypted from previous_client_secrets where client_id = $1 and expires_at > now()',
    [clientId],
  );
  return rows.map((row) => row.secret_encrypted);
}

export async function forgetClientControls(db: Queryable, clientId: string): Promise<void> {
  await db.query('delete from disabled_clients where client_id = $1', [clientId]);
  await db.query('delete from previous_client_secrets where client_id = $1', [clientId]);
}

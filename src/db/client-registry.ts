import type { AdapterPayload } from 'oidc-provider';
import { PgClientControlStore } from './client-controls.ts';
import type { Database, Queryable } from './database.ts';
import { payloadSql } from './oidc-payloads.ts';

const paths = payloadSql();

/**
 * The operator's view of the registered clients (`oidc_models` rows of model Client). Single clients are read and
 * written through the adapter, which encrypts and decrypts their secrets; these are the questions it has no method for.
 */

/** Every client's stored metadata without its secret (shown once, at creation), ordered by client id. */
export async function listClientMetadata(db: Queryable): Promise<AdapterPayload[]> {
  const { rows } = await db.query<{ payload: AdapterPayload }>(
    `select ${paths.clientMetadataWithoutSecret} as payload from oidc_models
     where model = 'Client' order by ${paths.clientMetadataId}`,
  );
  return rows.map((row) => row.payload);
}

/**
 * Removes the client and everything issued to it (codes, tokens, grants, device and CIBA requests, so nothing it
 * holds keeps working) with its operator controls, in one transaction. Sessions stay: they belong to the person and
 * may carry other clients. Returns how many artefacts went; undefined when there was no such client.
 */
export async function removeClientWithArtefacts(db: Database, clientId: string): Promise<number | undefined> {
  return db.transaction(async (tx) => {
    const removed = await tx.query(`delete from oidc_models where model = 'Client' and id = $1`, [clientId]);
    if (removed.rowCount !== 1) return undefined;
    const { rowCount } = await tx.query(
      `delete from oidc_models where model not in ('Client', 'Session') and ${paths.clientId} = $1`,
      [clientId],
    );
    await new PgClientControlStore(tx).forget(clientId);
    return rowCount ?? 0;
  });
}

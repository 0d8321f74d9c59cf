import type { AdapterPayload } from 'oidc-provider';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Database } from './database.ts';
import { HASHED_ID_MODELS, HASHED_ID_PREFIX, storedId } from './oidc-adapter.ts';
import { sealPayload } from './oidc-payloads.ts';

const MARKER = 'bearer_ids_hashed';
const BATCH = 500;

/**
 * Databases written before bearer ids were hashed hold raw token values as row ids. This re-keys those rows once
 * (under an advisory lock, so processes starting together take turns), keeping every issued token, code and session
 * working, and drops or seals the bearer values in their payloads as the adapter does. A marker row makes later starts skip it at the cost of one
 * select. Processes of the previous version must be stopped first: they would keep writing raw ids.
 */
export async function hashLegacyBearerIds(db: Database, box: SecretBox): Promise<number> {
  const done = await db.query('select 1 from server_secrets where name = $1', [MARKER]);
  if (done.rowCount) return 0;
  return db.transaction(async (tx) => {
    await tx.query(`select pg_advisory_xact_lock(hashtext('kluis.bearer_ids'))`);
    const again = await tx.query('select 1 from server_secrets where name = $1', [MARKER]);
    if (again.rowCount) return 0;
    let rekeyed = 0;
    for (;;) {
      const { rows } = await tx.query<{ model: string; id: string; payload: AdapterPayload }>(
        `select model, id, payload from oidc_models
         where model = any($1::text[]) and left(id, length($2)) <> $2 limit $3`,
        [[...HASHED_ID_MODELS], HASHED_ID_PREFIX, BATCH],
      );
      for (const row of rows) {
        await tx.query('update oidc_models set id = $3, payload = $4 where model = $1 and id = $2', [
          row.model,
          row.id,
          storedId(box, row.model, row.id),
          sealPayload(box, row.model, row.payload, true),
        ]);
      }
      rekeyed += rows.length;
      if (rows.length < BATCH) break;
    }
    // The value is no secret: it only records that the step ran.
    await tx.query('insert into server_secrets (name, value) values ($1, $2) on conflict (name) do nothing', [MARKER, 'hmac-sha256 v1']);
    return rekeyed;
  });
}

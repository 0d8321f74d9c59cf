import type { AdapterPayload } from 'oidc-provider';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Database } from './database.ts';
import { HASHED_ID_MODELS, HASHED_ID_PREFIX, storedId } from './oidc-adapter.ts';
import { sealPayload } from './oidc-payloads.ts';
import { runOnce } from './run-once.ts';

const BATCH = 1000;

/**
 * Databases written before bearer ids were hashed hold raw token values as row ids. This re-keys those rows once,
 * keeping every issued token, code and session working, and drops or seals the bearer values in their payloads as
 * the adapter does. The rows are walked in primary-key order, a batch per statement, so the work grows with the
 * table, not its square. Processes of the previous version must be stopped first: they would keep writing raw ids.
 */
export function hashLegacyBearerIds(db: Database, box: SecretBox): Promise<number> {
  return runOnce(db, 'bearer_ids_hashed', async (tx) => {
    let rekeyed = 0;
    let after = { model: '', id: '' };
    for (;;) {
      const { rows } = await tx.query<{ model: string; id: string; payload: AdapterPayload }>(
        `select model, id, payload from oidc_models
         where (model, id) > ($1, $2) and model = any($3::text[]) and left(id, length($4)) <> $4
         order by model, id limit $5`,
        [after.model, after.id, [...HASHED_ID_MODELS], HASHED_ID_PREFIX, BATCH],
      );
      if (rows.length === 0) break;
      await tx.query(
        `update oidc_models o set id = n.new_id, payload = n.payload
         from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) as n (model, id, new_id, payload)
         where o.model = n.model and o.id = n.id`,
        [
          rows.map((row) => row.model),
          rows.map((row) => row.id),
          rows.map((row) => storedId(box, row.model, row.id)),
          rows.map((row) => JSON.stringify(sealPayload(box, row.model, row.payload, true))),
        ],
      );
      rekeyed += rows.length;
      after = rows[rows.length - 1]!;
    }
    return rekeyed;
  });
}

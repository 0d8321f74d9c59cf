import type { Queryable } from './database.ts';

/** The highest migration applied (0 before the first). */
export async function schemaVersion(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ version: number | null }>('select max(version) as version from schema_migrations');
  return rows[0]?.version ?? 0;
}

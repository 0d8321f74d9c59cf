import type { Queryable } from './database.ts';

/** What the development demo (src/demo/seed.ts) left in a database. */
export type DemoData = {
  person: boolean;
  client: boolean;
};

/**
 * Whether the demo person and the demo client exist. The person counts only where the demo seeded it (the seed keeps
 * its password under `demo_password` in server_secrets), so a real customer who happens to be called like the demo
 * person is not mistaken for it.
 */
export async function findDemoData(db: Queryable, demo: { username: string; clientId: string }): Promise<DemoData> {
  const { rows } = await db.query<DemoData>(
    `select exists (select 1 from accounts where lower(username) = lower($1))
              and exists (select 1 from server_secrets where name = 'demo_password') as person,
            exists (select 1 from oidc_models where model = 'Client' and id = $2) as client`,
    [demo.username, demo.clientId],
  );
  return rows[0]!;
}

import type { Queryable } from './database.ts';
import type { SigningAlg } from '../config/protocol-constants.ts';

export interface ResourceServerRecord {
  identifier: string;
  scope: string;
  accessTokenFormat: 'jwt' | 'opaque';
  signingAlg: SigningAlg;
  accessTokenTtl: number | null;
  /** What the consent page calls the API; absent when the operator gave none. */
  title?: string;
  /** One sentence of what the API lets an app do; only with a title. */
  description?: string;
}

interface Row {
  identifier: string;
  scope: string;
  access_token_format: 'jwt' | 'opaque';
  signing_alg: SigningAlg;
  access_token_ttl: number | null;
  title: string | null;
  description: string | null;
  [key: string]: unknown;
}

const toRecord = (row: Row): ResourceServerRecord => ({
  identifier: row.identifier,
  scope: row.scope,
  accessTokenFormat: row.access_token_format,
  signingAlg: row.signing_alg,
  accessTokenTtl: row.access_token_ttl,
  ...(row.title === null ? {} : { title: row.title }),
  ...(row.description === null ? {} : { description: row.description }),
});

/** The `resource_servers` table: APIs registered by the operator (RFC 8707 resource indicators). */
export async function findResourceServer(db: Queryable, identifier: string): Promise<ResourceServerRecord | undefined> {
  const { rows } = await db.query<Row>('select * from resource_servers where identifier = $1', [identifier]);
  return rows[0] && toRecord(rows[0]);
}

/** The registered ones of `identifiers`, in one statement. */
export async function findResourceServers(
  db: Queryable,
  identifiers: readonly string[],
): Promise<ResourceServerRecord[]> {
  const { rows } = await db.query<Row>('select * from resource_servers where identifier = any($1)', [identifiers]);
  return rows.map(toRecord);
}

export async function listResourceServers(db: Queryable): Promise<ResourceServerRecord[]> {
  const { rows } = await db.query<Row>('select * from resource_servers order by identifier');
  return rows.map(toRecord);
}

export async function addResourceServer(db: Queryable, record: ResourceServerRecord): Promise<void> {
  await db.query(
    `insert into resource_servers
       (identifier, scope, access_token_format, signing_alg, access_token_ttl, title, description)
     values ($1, $2, $3, $4, $5, $6, $7)`,
    [
      record.identifier,
      record.scope,
      record.accessTokenFormat,
      record.signingAlg,
      record.accessTokenTtl,
      record.title ?? null,
      record.description ?? null,
    ],
  );
}

export async function removeResourceServer(db: Queryable, identifier: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from resource_servers where identifier = $1', [identifier]);
  return rowCount === 1;
}

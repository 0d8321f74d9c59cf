import { randomBytes } from 'node:crypto';
import type { Queryable } from './database.ts';

/** A password step waits this long for its second factor. */
const STEP_TTL_SECONDS = 600;

/**
 * Opens a password step awaiting its second factor; returns its id, which the interaction keeps. Removes a few
 * expired steps on the way, so abandoned sign-ins do not pile up without a sweeper of their own.
 */
export async function openSignInStep(db: Queryable): Promise<string> {
  const id = randomBytes(24).toString('base64url');
  await db.query(
    `with expired as (
       delete from sign_in_steps where id in (select id from sign_in_steps where expires_at < now() limit 20)
     )
     insert into sign_in_steps (id, expires_at) values ($1, now() + make_interval(secs => $2::float8))`,
    [id, STEP_TTL_SECONDS],
  );
  return id;
}

/** Compare-and-set: true for exactly one caller per live step, so parallel posts of one step are judged once. */
export async function consumeSignInStep(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from sign_in_steps where id = $1 and expires_at > now()', [id]);
  return rowCount === 1;
}

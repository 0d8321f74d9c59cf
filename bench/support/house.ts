import type { AdapterPayload } from 'oidc-provider';
import { PasswordHasher } from '../../src/auth/password.ts';
import { TOTP_PURPOSE } from '../../src/auth/sign-in.ts';
import { newTotpSecret } from '../../src/auth/totp.ts';
import { clientDeps, openContext, type CliContext } from '../../src/cli/context.ts';
import { addClient } from '../../src/clients/add.ts';
import { addResourceServer } from '../../src/clients/resource-servers.ts';

export interface BenchHouse {
  ctx: CliContext;
  client: AdapterPayload;
  /** bench1 … benchN, one password and one TOTP secret for all of them. */
  usernames: string[];
  passwordHash: string;
  totpSecret: string;
  /** Back to a state where each person can sign in again (a TOTP step is accepted once per account). */
  resetPeople(): Promise<void>;
}

/**
 * The bench's API, client and people, set up as an operator does: `kluis resources add` and `kluis clients add` are
 * the same commands here. The people are the exception: thousands who share one password hash and one TOTP secret
 * (so one code serves a whole round), which no command makes (each `users add` hashes its own password, ~50 ms, and
 * gets its own secret); they are written in one statement.
 */
export async function setUpHouse(
  databaseUrl: string,
  { api, redirectUri, password, people }: { api: string; redirectUri: string; password: string; people: number },
): Promise<BenchHouse> {
  const ctx = await openContext({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' });
  // The API first: a client may only be given scopes the server knows.
  await addResourceServer(ctx, { identifier: api, scope: 'bench:read', accessTokenTtl: 300 });
  const client = await addClient(await clientDeps(ctx), {
    client_name: 'Bench client',
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [redirectUri],
    scope: 'openid offline_access bench:read',
  });
  const totpSecret = newTotpSecret();
  const passwordHash = await new PasswordHasher(ctx.config.sca.argon2).hash(password);
  await ctx.db.query(
    `insert into accounts (id, username, password_hash, totp_secret_encrypted)
     select gen_random_uuid()::text, 'bench' || n, $1, $2 from generate_series(1, $3) n`,
    [passwordHash, ctx.secrets.box.encrypt(totpSecret, TOTP_PURPOSE), people],
  );
  return {
    ctx,
    client,
    usernames: Array.from({ length: people }, (_, i) => `bench${i + 1}`),
    passwordHash,
    totpSecret,
    async resetPeople() {
      await ctx.db.query('update accounts set totp_last_step = null');
      await ctx.db.query(`delete from oidc_models where model in ('Grant', 'Session')`);
    },
  };
}

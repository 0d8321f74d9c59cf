import { disableAccount } from '../account/disable.ts';
import { eraseAccount } from '../account/erasure.ts';
import { consentRecord, Consents } from '../consent/consents.ts';
import { findAccountByUsername } from '../db/accounts.ts';
import { ProviderHost } from '../oidc/provider-host.ts';
import { CliError, type CliContext } from './context.ts';

async function consentsOf(ctx: CliContext) {
  const host = await ProviderHost.create({ ...ctx });
  return new Consents(ctx.db, ctx.secrets.box, host, ctx.audit, ctx.log);
}

async function accountId(ctx: CliContext, username: string): Promise<string> {
  const account = await findAccountByUsername(ctx.db, username);
  if (!account) throw new CliError(`no user ${username}`);
  return account.id;
}

/** `consents list USERNAME`: every live consent of the person. */
export async function listConsents(ctx: CliContext, username: string) {
  const consents = await (await consentsOf(ctx)).list(await accountId(ctx, username));
  return consents.map(consentRecord);
}

/** `consents revoke USERNAME [CLIENT_ID]`: as if the person withdrew it, recorded as the operator's doing. */
export async function revokeConsents(ctx: CliContext, username: string, clientId: string | undefined) {
  const consents = await consentsOf(ctx);
  const id = await accountId(ctx, username);
  const targets = (await consents.list(id)).filter((consent) => clientId === undefined || consent.clientId === clientId);
  if (clientId !== undefined && targets.length === 0) throw new CliError(`${username} has no consent for client ${clientId}`);
  for (const consent of targets) await consents.revoke(id, consent.id, { channel: 'operator' });
  return { revoked: targets.map((consent) => ({ grant_id: consent.id, client_id: consent.clientId })) };
}

/** `users disable USERNAME`: sign-in refused from now on; every consent, session and token of the person ends. */
export async function disableUser(ctx: CliContext, username: string) {
  const id = await accountId(ctx, username);
  const ended = await disableAccount({ db: ctx.db, consents: await consentsOf(ctx), audit: ctx.audit }, id);
  return { username, status: 'disabled', consents_revoked: ended.consentsRevoked };
}

/** `users delete USERNAME`: an erasure request handled by the operator (GDPR Art 17), same effect as the person's own. */
export async function deleteUser(ctx: CliContext, username: string) {
  const id = await accountId(ctx, username);
  await eraseAccount(
    { db: ctx.db, consents: await consentsOf(ctx), audit: ctx.audit, salt: ctx.secrets.pairwiseSalt, quarantineSeconds: ctx.config.usernameQuarantine },
    id,
    'operator',
  );
  return { deleted: username };
}

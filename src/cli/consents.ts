import { disableAccount, endEverything } from '../people/disable.ts';
import { eraseAccount } from '../people/erasure.ts';
import { issueActivationCode } from '../auth/sign-in.ts';
import { consentRecord, Consents } from '../consents/consents.ts';
import { findAccountByUsername } from '../db/accounts.ts';
import { resetMfa as clearMfa } from '../db/second-factors.ts';
import { recordSecurityEvent } from '../db/security-events.ts';
import { ProviderHost } from '../oidc/provider/host.ts';
import { providerPages } from '../web/provider-pages.ts';
import { CliError, type CliContext } from './context.ts';

async function consentsOf(ctx: CliContext) {
  const host = await ProviderHost.create({ ...ctx, pages: providerPages });
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

/**
 * `users reset-mfa USERNAME`: removes the TOTP secret and recovery codes and issues a new activation code (replacing
 * any earlier one); the person enrols a new authenticator at the next sign-in with password and that code. The old
 * authenticator is no longer trusted (it may be someone else's, e.g. enrolled with the password alone before
 * activation codes existed), so, as with `users disable`, every consent is revoked and every session, interaction and
 * token of the person ends: whoever held it keeps nothing they got with it.
 */
export async function resetMfa(ctx: CliContext, username: string) {
  const id = await accountId(ctx, username);
  const activation = await ctx.db.transaction(async (tx) => {
    await clearMfa(tx, id);
    return issueActivationCode(tx, ctx.secrets.box, id, ctx.config.sca.activationCodeTtl);
  });
  const { consentsRevoked, artefactsRemoved } = await endEverything({ db: ctx.db, consents: await consentsOf(ctx) }, id);
  await ctx.audit.record({
    type: 'mfa.reset',
    actor: 'operator',
    accountId: id,
    details: { activation_code: true, consents_revoked: consentsRevoked, artefacts_removed: artefactsRemoved },
  });
  await recordSecurityEvent(ctx.db, id, 'mfa.reset');
  return {
    username,
    mfa: 'awaiting activation',
    activation_code: activation.code,
    activation_code_expires_at: activation.expiresAt.toISOString(),
    consents_revoked: consentsRevoked,
  };
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

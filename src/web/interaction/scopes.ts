import type { InteractionResults } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { findResourceServerTitles, type ResourceServerTitle } from '../../clients/resource-servers.ts';
import type { Queryable } from '../../db/database.ts';
import type { Translator } from '../../i18n/translator.ts';

/** The scopes whose title and description the catalogues hold (scope.<name>.*); any other is an API's permission. */
const KNOWN_SCOPES = new Set(['openid', 'profile', 'email', 'phone', 'offline_access']);

export interface ScopeChoice {
  name: string;
  title: string;
  description: string;
  required: boolean;
}

/** The APIs (RFC 8707 resources) at stake, each with its scopes, and the titles their operator gave them. */
export interface ApisAtStake {
  resources: Record<string, readonly string[]>;
  titles: ReadonlyMap<string, ResourceServerTitle>;
}

/** The APIs of `resources` (resource → scopes) with their titles, read in one statement. */
export async function apisAtStake(db: Queryable, resources: Record<string, readonly string[]>): Promise<ApisAtStake> {
  return { resources, titles: await findResourceServerTitles({ db }, Object.keys(resources)) };
}

const NO_APIS: ApisAtStake = { resources: {}, titles: new Map() };

/**
 * The scopes to ask about, in the reader's words: `openid` is required for sign-in; every other can be left out. An
 * API's scope is named after the API ("Payments API"), with the scope only where the API has several; a scope name
 * that several APIs share names each of them (ticked, it is granted at every one).
 */
export function scopeChoices(requested: readonly string[], i18n: Translator, apis = NO_APIS): ScopeChoice[] {
  return requested.map((name) => {
    const at = KNOWN_SCOPES.has(name)
      ? []
      : Object.keys(apis.resources).filter((resource) => apis.resources[resource]!.includes(name));
    const only = at.length === 1 ? apis.titles.get(at[0]!) : undefined;
    if (at.length > 1 || only) {
      const names = i18n.list(at.map((resource) => apis.titles.get(resource)?.title ?? resource));
      const alone = only !== undefined && apis.resources[at[0]!]!.length === 1;
      return {
        name,
        title: alone ? names : i18n.t('consent.apiScope', { title: names, scope: name }),
        description: only?.description ?? i18n.t('scope.api.description', { api: names }),
        required: false,
      };
    }
    const key = KNOWN_SCOPES.has(name) ? `scope.${name}` : 'scope.other';
    return {
      name,
      title: i18n.t(`${key}.title`, { scope: name }),
      description: i18n.t(`${key}.description`, { scope: name }),
      required: name === 'openid',
    };
  });
}

/**
 * What a consent lets an app do, one line each, for the account area: its OpenID scopes, then each API's scopes by the
 * API's title (`titles`, see apisAtStake), or by scope and resource where the operator gave the API none.
 */
export function grantedPermissions(
  granted: { scopes: readonly string[]; resources: Record<string, readonly string[]> },
  titles: ReadonlyMap<string, ResourceServerTitle>,
  i18n: Translator,
): string[] {
  const lines = scopeChoices(granted.scopes, i18n).map((choice) => choice.title);
  for (const [resource, scopes] of Object.entries(granted.resources)) {
    const apis = { resources: { [resource]: scopes }, titles };
    for (const choice of scopeChoices(scopes, i18n, apis)) {
      lines.push(titles.has(resource) ? choice.title : i18n.t('consents.apiScope', { title: choice.title, resource }));
    }
  }
  return lines;
}

/** The titles of every API that `grants` name, read in one statement, for grantedPermissions. */
export function titlesOf(db: Queryable, grants: readonly { resources: Record<string, readonly string[]> }[]) {
  const resources = new Set(grants.flatMap((grant) => Object.keys(grant.resources)));
  return findResourceServerTitles({ db }, [...resources]);
}

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

/**
 * Saves the person's decision as an oidc-provider Grant: the scopes they allowed are granted, the ones they
 * unticked are recorded as rejected (so they are not asked again for this grant, and never issued).
 */
export async function saveGrant(
  provider: Provider,
  interaction: {
    grantId?: string | undefined;
    session?: { accountId: string } | undefined;
    params: Record<string, unknown>;
    prompt: { details: unknown };
  },
  allowed: Set<string>,
  authorizationDetails: readonly object[] = [],
): Promise<NonNullable<InteractionResults['consent']>> {
  const details = interaction.prompt.details as ConsentDetails;
  const grant = interaction.grantId
    ? (await provider.Grant.find(interaction.grantId))!
    : new provider.Grant({ accountId: interaction.session!.accountId, clientId: String(interaction.params.client_id) });

  const missing = details.missingOIDCScope ?? [];
  const granted = missing.filter((scope) => scope === 'openid' || allowed.has(scope));
  const rejected = missing.filter((scope) => !granted.includes(scope));
  if (granted.length) grant.addOIDCScope(granted.join(' '));
  if (rejected.length) grant.rejectOIDCScope(rejected.join(' '));
  if (details.missingOIDCClaims?.length) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    const ok = scopes.filter((scope) => allowed.has(scope));
    const no = scopes.filter((scope) => !allowed.has(scope));
    if (ok.length) grant.addResourceScope(resource, ok.join(' '));
    if (no.length) grant.rejectResourceScope(resource, no.join(' '));
  }
  // Open banking details are authorised whole: the screen shows each one and offers no partial choice.
  for (const detail of authorizationDetails) grant.addRar(detail as never);
  return { grantId: await grant.save() };
}

import type { InteractionResults } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { findResourceServerTitle, type ResourceServerTitle } from '../../clients/resource-servers.ts';
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

/** An API's scope, with the API (RFC 8707 resource) it belongs to and how many of that API's scopes are at stake. */
interface ApiScope {
  resource: string;
  api: ResourceServerTitle | undefined;
  siblings: number;
}

/** The scopes of each API in `resources` (resource → scopes), with the title its operator gave it (resources add). */
export async function apiScopes(db: Queryable, resources: Record<string, readonly string[]>) {
  const byScope = new Map<string, ApiScope>();
  for (const [resource, scopes] of Object.entries(resources)) {
    const api = await findResourceServerTitle({ db }, resource);
    for (const scope of scopes) byScope.set(scope, { resource, api, siblings: scopes.length });
  }
  return byScope;
}

/**
 * The scopes to ask about, in the reader's words: `openid` is required for sign-in; every other can be left out. An
 * API's scope is named after the API ("Payments API"), with the scope only where the API has several.
 */
export function scopeChoices(
  requested: readonly string[],
  i18n: Translator,
  apis: ReadonlyMap<string, ApiScope> = new Map(),
): ScopeChoice[] {
  return requested.map((name) => {
    const api = apis.get(name)?.api;
    if (!KNOWN_SCOPES.has(name) && api) {
      const several = apis.get(name)!.siblings > 1;
      return {
        name,
        title: several ? i18n.t('consent.apiScope', { title: api.title, scope: name }) : api.title,
        description: api.description ?? i18n.t('scope.api.description', { api: api.title }),
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
 * API's title, or by scope and resource where the operator gave the API none.
 */
export async function grantedPermissions(
  db: Queryable,
  granted: { scopes: readonly string[]; resources: Record<string, readonly string[]> },
  i18n: Translator,
): Promise<string[]> {
  const apis = await apiScopes(db, granted.resources);
  const lines = scopeChoices(granted.scopes, i18n).map((choice) => choice.title);
  for (const [resource, scopes] of Object.entries(granted.resources)) {
    for (const choice of scopeChoices(scopes, i18n, apis)) {
      lines.push(
        apis.get(choice.name)?.api ? choice.title : i18n.t('consents.apiScope', { title: choice.title, resource }),
      );
    }
  }
  return lines;
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

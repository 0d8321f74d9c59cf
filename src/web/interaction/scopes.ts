import type { InteractionResults } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Translator } from '../../i18n/translator.ts';

/** The scopes whose title and description the catalogues hold (scope.<name>.*); any other is an API's permission. */
const KNOWN_SCOPES = new Set(['openid', 'profile', 'email', 'phone', 'offline_access']);

export interface ScopeChoice {
  name: string;
  title: string;
  description: string;
  required: boolean;
}

/** The scopes to ask about, in the reader's words: `openid` is required for sign-in; every other can be left out. */
export function scopeChoices(requested: string[], i18n: Translator): ScopeChoice[] {
  return requested.map((name) => {
    const key = KNOWN_SCOPES.has(name) ? `scope.${name}` : 'scope.other';
    return {
      name,
      title: i18n.t(`${key}.title`, { scope: name }),
      description: i18n.t(`${key}.description`, { scope: name }),
      required: name === 'openid',
    };
  });
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

import type { InteractionResults } from 'oidc-provider';
import type Provider from 'oidc-provider';

/** Plain-language descriptions of what each scope lets the client do (shown on the consent screen). */
const SCOPES: Record<string, { title: string; description: string }> = {
  openid: { title: 'Know who you are', description: 'A pseudonymous identifier for you, for this app only.' },
  profile: { title: 'Your name and profile', description: 'Your name, preferred username, language and time zone.' },
  email: { title: 'Your email address', description: 'Your email address and whether it is verified.' },
  phone: { title: 'Your phone number', description: 'Your phone number and whether it is verified.' },
  offline_access: {
    title: 'Stay connected',
    description: 'Keep access while you are not using the app, until you withdraw it.',
  },
};

export interface ScopeChoice {
  name: string;
  title: string;
  description: string;
  required: boolean;
}

/** The scopes to ask about: `openid` is required for sign-in; every other scope can be left out. */
export function scopeChoices(requested: string[]): ScopeChoice[] {
  return requested.map((name) => ({
    name,
    title: SCOPES[name]?.title ?? `Access “${name}”`,
    description: SCOPES[name]?.description ?? `Lets the app use the “${name}” permission of an API on your behalf.`,
    required: name === 'openid',
  }));
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

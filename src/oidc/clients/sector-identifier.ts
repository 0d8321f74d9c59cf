import { setTimeout } from 'node:timers/promises';
import { errors } from 'oidc-provider';
import { fetchRegistrantDocument, type OutboundOptions } from './outbound.ts';

const FETCH_TIMEOUT_MS = 5000;
const MAX_BODY_BYTES = 64 * 1024;

/**
 * OIDC Core 8.1: a pairwise client whose redirect URIs span several hosts names a `sector_identifier_uri`, an https
 * URL whose JSON array lists every redirect URI; its host is then the sector. Kluis fetches and checks it on every
 * registration path, so a client cannot claim another party's sector (and receive that party's `sub` values).
 *
 * Whatever goes wrong before a complete 200 answer (refused, timed out, TLS, special-use address, another status,
 * too large) is one answer, "could not be fetched", given when the fetch's deadline has passed: the reason, or how
 * soon it was known (a closed port in milliseconds, a filtered one at the deadline), would otherwise tell a
 * registrant which hosts and ports exist behind Kluis. `options` are for tests: a resolver (see
 * {@link OutboundOptions}) and a shorter deadline.
 */
export async function verifySectorIdentifierUri(
  metadata: Record<string, unknown>,
  production: boolean,
  { resolve, timeoutMs = FETCH_TIMEOUT_MS }: { resolve?: OutboundOptions['resolve']; timeoutMs?: number } = {},
): Promise<void> {
  const uri = metadata.sector_identifier_uri;
  if (uri === undefined) return;
  const fail = (reason: string) => new errors.InvalidClientMetadata(`sector_identifier_uri ${reason}`);
  if (typeof uri !== 'string' || !URL.canParse(uri) || new URL(uri).protocol !== 'https:')
    throw fail('must be an https URL');

  let body: string;
  const deadline = Date.now() + timeoutMs;
  try {
    const limits = { maxBytes: MAX_BODY_BYTES, timeoutMs };
    const answer = await fetchRegistrantDocument(new URL(uri), { production, ...limits, resolve });
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
    body = answer.body;
  } catch {
    await setTimeout(Math.max(0, deadline - Date.now()));
    throw fail('could not be fetched');
  }

  let listed: unknown;
  try {
    listed = JSON.parse(body);
  } catch {
    throw fail('did not return JSON');
  }
  if (!Array.isArray(listed) || !listed.every((entry) => typeof entry === 'string'))
    throw fail('must return a JSON array of URLs');
  const missing = ((metadata.redirect_uris as string[] | undefined) ?? []).filter(
    (redirect) => !listed.includes(redirect),
  );
  if (missing.length) throw fail(`does not list every redirect URI (missing ${missing.join(', ')})`);
}

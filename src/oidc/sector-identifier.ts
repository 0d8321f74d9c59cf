import { errors } from 'oidc-provider';
import { assertPublicHost } from './outbound.ts';

const FETCH_TIMEOUT_MS = 5000;
const MAX_BODY_BYTES = 64 * 1024;

/**
 * OIDC Core 8.1: a pairwise client whose redirect URIs span several hosts names a `sector_identifier_uri`, an https
 * URL whose JSON array lists every redirect URI; its host is then the sector. Kluis fetches and checks it on every
 * registration path, so a client cannot claim another party's sector (and receive that party's `sub` values).
 */
export async function verifySectorIdentifierUri(metadata: Record<string, unknown>, production: boolean): Promise<void> {
  const uri = metadata.sector_identifier_uri;
  if (uri === undefined) return;
  const fail = (reason: string) => new errors.InvalidClientMetadata(`sector_identifier_uri ${reason}`);
  if (typeof uri !== 'string' || !URL.canParse(uri) || new URL(uri).protocol !== 'https:') throw fail('must be an https URL');

  let body: string;
  try {
    if (production) await assertPublicHost(new URL(uri));
    const res = await fetch(uri, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (res.status !== 200) throw fail(`answered HTTP ${res.status}, expected 200`);
    const length = Number(res.headers.get('content-length') ?? 0);
    if (length > MAX_BODY_BYTES) throw fail(`response is larger than ${MAX_BODY_BYTES} bytes`);
    body = await res.text();
  } catch (err) {
    if (err instanceof errors.InvalidClientMetadata) throw err;
    throw fail(`could not be fetched (${(err as Error).cause ? String(((err as Error).cause as Error).message ?? (err as Error).cause) : (err as Error).message})`);
  }
  if (body.length > MAX_BODY_BYTES) throw fail(`response is larger than ${MAX_BODY_BYTES} bytes`);

  let listed: unknown;
  try {
    listed = JSON.parse(body);
  } catch {
    throw fail('did not return JSON');
  }
  if (!Array.isArray(listed) || !listed.every((entry) => typeof entry === 'string')) throw fail('must return a JSON array of URLs');
  const missing = ((metadata.redirect_uris as string[] | undefined) ?? []).filter((redirect) => !listed.includes(redirect));
  if (missing.length) throw fail(`does not list every redirect URI (missing ${missing.join(', ')})`);
}

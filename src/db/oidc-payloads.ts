import type { AdapterPayload } from 'oidc-provider';
import type { SecretBox } from '../secrets/secret-box.ts';

// oidc-provider's payload format is known here only: what of it must not reach the database in clear, and where in
// it sits what Kluis looks rows up by.

/**
 * Where oidc-provider keeps what Kluis queries `oidc_models` rows by, as SQL over the `payload` of the row named
 * `row` (the table or its alias). Arguments are SQL too (usually a parameter such as `$1`).
 */
export function payloadSql(row = 'oidc_models') {
  const payload = `${row}.payload`;
  return {
    /** The person a Session, Grant, token or code is for. */
    accountId: `${payload}->>'accountId'`,
    /** The client a Grant, token, code or request was issued to. */
    clientId: `${payload}->>'clientId'`,
    /** A Client's own id, in its metadata. */
    clientMetadataId: `${payload}->>'client_id'`,
    /** A Client's metadata without its (sealed) secret. */
    clientMetadataWithoutSecret: `${payload} - 'client_secret'`,
    /** When a Grant or token was issued, seconds since the epoch, ordered as a number. */
    issuedAt: `(${payload}->>'iat')::bigint`,
    /** A Grant with RFC 9396 authorization details (a payment, access to accounts). */
    hasAuthorizationDetails: `${payload} ? 'rar'`,
    /** A Session that `client` took part in. */
    sessionHasClient: (client: string) => `${payload}->'authorizations' ? ${client}`,
    /** The `sid` a Session gave `client` (OpenID Connect Back-Channel Logout 1.0). */
    sessionSidFor: (client: string) => `${payload}->'authorizations'->${client}->>'sid'`,
    /**
     * Any row of the person `account`: sessions, grants and what was issued under them, interactions (also a sign-in
     * or enrolment under way, known only by Kluis's own state in the interaction's result).
     */
    belongsTo: (account: string) =>
      `(${payload}->>'accountId' = ${account}
        or ${payload}->'session'->>'accountId' = ${account}
        or ${payload}->'result'->'login'->>'accountId' = ${account}
        or ${payload}->'result'->'kluis'->'step'->>'accountId' = ${account}
        or ${payload}->'result'->'kluis'->'enrolment'->>'accountId' = ${account})`,
  };
}

/**
 * What of oidc-provider's payloads must not reach the database in clear, in one place. Ids of bearer models are
 * stored as keyed hashes (see the adapter), so their `jti` is dropped here and given back on the way out. Some
 * payloads also carry another bearer value that oidc-provider needs back as it was: those are sealed with AES-GCM.
 */

export const CLIENT_SECRET_PURPOSE = 'client_secret';

/**
 * Fields holding another instance's bearer value. An Interaction carries its own uid in `returnTo` (the value of
 * the interaction and resume cookies), the raw `request_uri` id of its pushed request in `parJti` and in
 * `params.request_uri`, and a device code. The session cookie's value it also copies (`session.cookie`) is never
 * read back by oidc-provider, so it is dropped rather than sealed.
 */
const SEALED_FIELDS: Record<string, readonly (readonly string[])[]> = {
  Interaction: [['returnTo'], ['parJti'], ['deviceCode'], ['params', 'request_uri']],
};
const DROPPED_FIELDS: Record<string, readonly (readonly string[])[]> = {
  Interaction: [['session', 'cookie']],
};

type Json = Record<string, unknown>;

/** The payload as it is stored: without `jti` for a hashed-id model, with bearer fields sealed or dropped. */
export function sealPayload(box: SecretBox, model: string, payload: AdapterPayload, hashedId: boolean): AdapterPayload {
  if (model === 'Client' && typeof payload.client_secret === 'string') {
    return { ...payload, client_secret: box.encrypt(payload.client_secret, CLIENT_SECRET_PURPOSE) };
  }
  const deep = SEALED_FIELDS[model] || DROPPED_FIELDS[model];
  const stored: Json = deep ? structuredClone(payload) : { ...payload };
  if (hashedId) delete stored.jti;
  for (const path of DROPPED_FIELDS[model] ?? []) update(stored, path, () => undefined);
  for (const path of SEALED_FIELDS[model] ?? []) {
    update(stored, path, (value) => (typeof value === 'string' ? box.encrypt(value, purpose(model, path)) : value));
  }
  return stored as AdapterPayload;
}

/** The payload as oidc-provider stored it, `id` being the raw id it was looked up by (undefined: a secondary key). */
export function openPayload(
  box: SecretBox,
  model: string,
  stored: AdapterPayload,
  hashedId: boolean,
  id: string | undefined,
): AdapterPayload {
  if (model === 'Client' && typeof stored.client_secret === 'string') {
    return { ...stored, client_secret: box.decrypt(stored.client_secret, CLIENT_SECRET_PURPOSE) };
  }
  const fields = SEALED_FIELDS[model];
  const payload: Json = fields ? structuredClone(stored) : { ...stored };
  // Rows written before a field was sealed hold it in clear; they are opened as they are.
  for (const path of fields ?? []) {
    update(payload, path, (value) => (isSealed(value) ? box.decrypt(value, purpose(model, path)) : value));
  }
  if (hashedId && id !== undefined) payload.jti = id;
  return payload as AdapterPayload;
}

const purpose = (model: string, path: readonly string[]) => `oidc_models.${model}.${path.join('.')}`;
const isSealed = (value: unknown): value is string => typeof value === 'string' && value.startsWith('v1.');

/** Replaces the value at `path` (nothing happens where the path does not exist); undefined removes it. */
function update(target: Json, path: readonly string[], change: (value: unknown) => unknown): void {
  const parents = path.slice(0, -1);
  let node: unknown = target;
  for (const key of parents) {
    node = node && typeof node === 'object' ? (node as Json)[key] : undefined;
  }
  const last = path[path.length - 1]!;
  if (!node || typeof node !== 'object' || !(last in node)) return;
  const next = change((node as Json)[last]);
  if (next === undefined) delete (node as Json)[last];
  else (node as Json)[last] = next;
}

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { parse } from 'node:querystring';
import type { Context } from 'koa';
import { decodeJwt } from 'jose';

/** oidc-provider refuses bodies above 56 KiB; Kluis reads token-endpoint bodies itself to find the client. */
export const MAX_BODY = 56 * 1024;

/**
 * Reads the body of a client endpoint request (at most MAX_BODY bytes), then puts it back into the request stream
 * (`readable.unshift`) so oidc-provider reads and parses it itself as it would an untouched request: a body handed
 * over as `req.body` instead makes it print a warning that is no JSON log line. Undefined when the body is too large.
 *
 * The stream is read in paused mode and the whole body unshifted in the same tick as the last read: Node emits 'end'
 * only on a later tick, and not at all once the buffer holds data again.
 */
export async function readBody(ctx: Context): Promise<Buffer | undefined> {
  const req = ctx.req;
  if (ctx.request.length > MAX_BODY) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  // `complete`: the parser has pushed the whole message (Content-Length reached, or the last chunk).
  while (!(req.complete && req.readableLength === 0)) {
    const chunk = req.read() as Buffer | null;
    if (chunk === null) {
      await once(req, 'readable'); // rejects when the client aborts the request
      continue;
    }
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks, size);
  if (size > 0) req.unshift(body);
  return body;
}

/**
 * Whether the request carries anything that authenticates a client (RFC 6749 2.3): HTTP Basic, a client_secret, a
 * client assertion (RFC 7523) or a client certificate from the trusted proxy (RFC 8705). A bare client_id does not.
 */
export function offersCredential(ctx: Context, params: FormParams, certificateHeader: string | undefined): boolean {
  if (/^Basic\s/i.test(ctx.get('authorization')) || (certificateHeader && ctx.get(certificateHeader))) return true;
  return params.client_secret !== undefined || params.client_assertion !== undefined;
}

export type FormParams = ReturnType<typeof parse>;

/** The form parameters of a client endpoint's body, parsed once for both questions below (none for other types). */
export function formParams(ctx: Context, body: Buffer): FormParams {
  return ctx.is('application/x-www-form-urlencoded') ? parse(body.toString()) : {};
}

/**
 * A claimed client_id as it goes into a counter's key: as sent up to 64 characters (Kluis's own ids are far shorter),
 * longer ones by their SHA-256, so a key has a bounded size and two long ids sharing a prefix get separate counters;
 * so too one Postgres could not store (a NUL, a lone surrogate), which would fail the batch of hits it shared.
 */
export function keyPart(clientId: string): string {
  const plain = clientId.length <= 64 && !clientId.includes('\u0000') && clientId.isWellFormed();
  return plain ? clientId : `sha256:${createHash('sha256').update(clientId).digest('base64url')}`;
}

/** The client a request claims to be (HTTP Basic, client_id, or a client assertion's issuer); not yet verified. */
export function claimedClient(ctx: Context, params: FormParams): string | undefined {
  const basic = /^Basic\s+(.+)$/i.exec(ctx.get('authorization'));
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString();
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      try {
        return decodeURIComponent(decoded.slice(0, colon)).slice(0, 200);
      } catch {
        return undefined;
      }
    }
  }
  if (typeof params.client_id === 'string') return params.client_id.slice(0, 200);
  if (typeof params.client_assertion === 'string') {
    try {
      const iss = decodeJwt(params.client_assertion).iss;
      return typeof iss === 'string' ? iss.slice(0, 200) : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

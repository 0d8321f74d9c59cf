import { createHash, timingSafeEqual } from 'node:crypto';
import type Provider from 'oidc-provider';
import { PgClientControlStore } from '../../db/client-controls.ts';
import type { Database } from '../../db/database.ts';
import { CLIENT_SECRET_PURPOSE } from '../../db/oidc-adapter.ts';
import type { SecretBox } from '../../secrets/secret-box.ts';
import { unlessUnavailable } from '../provider/errors.ts';

interface ClientPrototype {
  clientId: string;
  compareClientSecret(actual: string): Promise<boolean> | boolean;
}

// Hashing both sides first gives equal-length inputs, so the comparison time says nothing about the secret.
const sameSecret = (a: string, b: string) =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

/**
 * After `kluis clients rotate-secret`, a client's previous secret keeps authenticating (client_secret_basic/post)
 * until its grace period ends, so the client can roll over without downtime. oidc-provider compares secrets in one
 * method of its per-provider Client class; this is the one place Kluis extends it.
 */
export function acceptRotatedSecrets(provider: Provider, db: Database, box: SecretBox): void {
  const prototype = (provider.Client as unknown as { prototype: ClientPrototype }).prototype;
  const current = prototype.compareClientSecret;
  const controls = new PgClientControlStore(db);
  prototype.compareClientSecret = async function compareClientSecret(this: ClientPrototype, actual: string) {
    if (await current.call(this, actual)) return true;
    const previous = await unlessUnavailable(controls.previousSecrets(this.clientId));
    return previous.some((sealed) => sameSecret(box.decrypt(sealed, CLIENT_SECRET_PURPOSE), actual));
  };
}

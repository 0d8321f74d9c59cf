import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import { unlessUnavailable } from './errors.ts';

/**
 * The adapter oidc-provider is given. Storage underneath (db/oidc-adapter.ts) throws only storage errors; here they
 * become the protocol errors oidc-provider renders, by the one mapping in errors.ts: an outage answers
 * `temporarily_unavailable` (503), a code redeemed twice `invalid_grant`.
 */
export class ProviderAdapter implements Adapter {
  readonly #storage: Adapter;

  constructor(storage: Adapter) {
    this.#storage = storage;
  }

  upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
    return unlessUnavailable(this.#storage.upsert(id, payload, expiresIn));
  }

  find(id: string) {
    return unlessUnavailable(this.#storage.find(id));
  }

  findByUid(uid: string) {
    return unlessUnavailable(this.#storage.findByUid(uid));
  }

  findByUserCode(userCode: string) {
    return unlessUnavailable(this.#storage.findByUserCode(userCode));
  }

  consume(id: string) {
    return unlessUnavailable(this.#storage.consume(id));
  }

  destroy(id: string) {
    return unlessUnavailable(this.#storage.destroy(id));
  }

  revokeByGrantId(grantId: string) {
    return unlessUnavailable(this.#storage.revokeByGrantId(grantId));
  }
}

/** `storage`'s adapters, each wrapped in a {@link ProviderAdapter}. */
export function providerAdapters(storage: AdapterFactory): AdapterFactory {
  return (model: string) => new ProviderAdapter(storage(model));
}

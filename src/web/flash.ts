import type { Context } from 'koa';
import type { SecretBox } from '../secrets/secret-box.ts';

export interface FlashOptions {
  /** The cookie's name and path: a flash is read on the pages below that path. */
  name: string;
  path: string;
  /** What the sealed message is for (the box binds it to this purpose). */
  purpose: string;
  secure: boolean;
}

/**
 * A one-line notice for the page a see-other redirect leads to, carried in a short-lived cookie sealed by the secret
 * box (so a client can neither read another's nor forge one), and shown once.
 */
export class Flash {
  readonly #box: SecretBox;
  readonly #options: FlashOptions;

  constructor(box: SecretBox, options: FlashOptions) {
    this.#box = box;
    this.#options = options;
  }

  set(ctx: Context, message: string): void {
    ctx.cookies.set(this.#options.name, this.#box.encrypt(message, this.#options.purpose), this.#cookie(60_000));
  }

  take(ctx: Context): string | undefined {
    const sealed = ctx.cookies.get(this.#options.name, { signed: false });
    if (!sealed) return undefined;
    ctx.cookies.set(this.#options.name, null, this.#cookie(0));
    try {
      return this.#box.decrypt(sealed, this.#options.purpose);
    } catch {
      return undefined;
    }
  }

  #cookie(maxAge: number) {
    const { path, secure } = this.#options;
    // Sealed by the secret box already. Kluis's pages are served by oidc-provider's Koa app, which has cookie keys,
    // and Koa would sign a cookie (a second `.sig` cookie) unless told not to.
    return { httpOnly: true, sameSite: 'lax' as const, secure, path, maxAge, overwrite: true, signed: false };
  }
}

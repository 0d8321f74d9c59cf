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

/** A notice as a catalogue key and its values; those named in `dates` are ISO times, shown in the reader's zone. */
export interface FlashMessage {
  key: string;
  values?: Record<string, string>;
  dates?: string[];
}

/**
 * A one-line notice for the page a see-other redirect leads to, carried in a short-lived cookie sealed by the secret
 * box (so a client can neither read another's nor forge one), and shown once, in the language of the page.
 */
export class Flash {
  readonly #box: SecretBox;
  readonly #options: FlashOptions;

  constructor(box: SecretBox, options: FlashOptions) {
    this.#box = box;
    this.#options = options;
  }

  set(ctx: Context, message: FlashMessage): void {
    const sealed = this.#box.encrypt(JSON.stringify(message), this.#options.purpose);
    ctx.cookies.set(this.#options.name, sealed, this.#cookie(60_000));
  }

  take(ctx: Context): FlashMessage | undefined {
    const sealed = ctx.cookies.get(this.#options.name, { signed: false });
    if (!sealed) return undefined;
    ctx.cookies.set(this.#options.name, null, this.#cookie(0));
    try {
      return JSON.parse(this.#box.decrypt(sealed, this.#options.purpose)) as FlashMessage;
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

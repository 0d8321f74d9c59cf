/**
 * Just enough of a browser for the SCA login: a cookie jar, redirects followed on Kluis's origin, forms posted with
 * their CSRF token. The flow is multi-step and cookie-carrying, which a load generator for single requests is not.
 */
export class Browser {
  readonly #origin: string;
  readonly #cookies = new Map<string, string>();

  constructor(origin: string) {
    this.#origin = new URL(origin).origin;
  }

  async #request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size) headers.set('cookie', [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(new URL(url, this.#origin), { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const index = pair.indexOf('=');
      const value = pair.slice(index + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.#cookies.delete(pair.slice(0, index).trim());
      else this.#cookies.set(pair.slice(0, index).trim(), value);
    }
    return res;
  }

  /** Follows redirects on Kluis's origin; returns the last page, or the URL elsewhere (the client's) it was sent to. */
  async follow(url: string | URL, init: RequestInit = {}): Promise<{ res: Response; external?: URL }> {
    let res = await this.#request(url, init);
    for (let hops = 0; hops < 20 && res.status >= 300 && res.status < 400; hops += 1) {
      const location = new URL(res.headers.get('location')!, this.#origin);
      if (location.origin !== this.#origin) return { res, external: location };
      res = await this.#request(location);
    }
    return { res };
  }

  /** Posts the form of `page` that goes to `/interaction/…/<step>`, with its CSRF token. */
  async submit(page: string, step: string, fields: Record<string, string | string[]>) {
    const action = new RegExp(`action="(/interaction/[^"]+/${step})"`).exec(page)?.[1];
    if (!action) throw new Error(`no form posting to .../${step} on the page`);
    const body = new URLSearchParams();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
    if (csrf) body.append('csrf', csrf);
    for (const [name, value] of Object.entries(fields))
      for (const v of ([] as string[]).concat(value)) body.append(name, v);
    return this.follow(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  }
}

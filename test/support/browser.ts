/**
 * A minimal browser for HTTP tests: keeps cookies, follows redirects within Kluis, stops at the client's
 * redirect URI, and submits forms with their CSRF token. Cookies are sent on every path, which is at least as
 * permissive as a real browser: a test that passes with it cannot depend on cookie path scoping.
 */
export class Browser {
  readonly base: string;
  readonly cookies = new Map<string, string>();
  lastStatus = 0;
  /** Sent with every request, e.g. the X-Forwarded-For a proxy would add. */
  readonly headers: Record<string, string>;
  /** Every Set-Cookie line received, in order. */
  readonly setCookies: string[] = [];
  /** An issuer origin served at `base` (an https issuer behind a test proxy): its URLs are fetched from `base`. */
  readonly alias: string | undefined;

  constructor(base: string, headers: Record<string, string> = {}, alias?: string) {
    this.base = base;
    this.headers = headers;
    this.alias = alias && new URL(alias).origin;
  }

  private local(url: string | URL): URL {
    const target = new URL(url, this.base);
    if (this.alias && target.origin === this.alias) return new URL(target.pathname + target.search, this.base);
    return target;
  }

  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = this.local(url);
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(this.headers)) headers.set(name, value);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(target, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      this.setCookies.push(line);
      const [pair = ''] = line.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    this.lastStatus = res.status;
    return res;
  }

  /** Follows redirects on Kluis's origin; returns the final response, or the URL outside Kluis it was sent to. */
  async follow(url: string | URL, init: RequestInit = {}): Promise<{ res: Response; external?: URL }> {
    let res = await this.request(url, init);
    for (let hops = 0; hops < 20 && res.status >= 300 && res.status < 400; hops += 1) {
      const location = this.local(res.headers.get('location')!);
      if (location.origin !== new URL(this.base).origin) return { res, external: location };
      res = await this.request(location);
    }
    return { res };
  }

  /** Posts a form; the CSRF token is taken from `page` unless given. */
  async submit(action: string, page: string, fields: Record<string, string | string[]>) {
    const body = new URLSearchParams();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
    if (csrf && !('csrf' in fields)) body.append('csrf', csrf);
    for (const [name, value] of Object.entries(fields))
      for (const v of ([] as string[]).concat(value)) body.append(name, v);
    return this.follow(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  }
}

export function formAction(page: string, path: string): string {
  const match = new RegExp(`action="(/interaction/[^"]+/${path})"`).exec(page);
  if (!match) throw new Error(`no form posting to .../${path} in:\n${page.slice(0, 2000)}`);
  return match[1]!;
}

/**
 * Submits oidc-provider's auto-submitting form in `page` (the end of the first person's session after "Not you?", a
 * form_post response) as a browser with JavaScript would.
 */
export async function autoSubmit(browser: Browser, page: string) {
  const action = /<form method="post" action="([^"]+)"/.exec(page)?.[1];
  if (!action) throw new Error(`no auto-submitting form in:\n${page.slice(0, 1000)}`);
  const fields = Object.fromEntries(
    [...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/>/g)].map((m) => [m[1]!, m[2]!]),
  );
  return browser.submit(action, page, fields);
}

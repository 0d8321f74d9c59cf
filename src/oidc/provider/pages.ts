import type { Context } from 'koa';

/** An OAuth error as oidc-provider hands it to renderError (RFC 6749 4.1.2.1). */
export interface ProtocolError {
  error: string;
  error_description?: string | undefined;
}

/**
 * The HTML pages the protocol itself answers with. The protocol rooms render no views: the web layer writes these
 * pages (in the person's language, from the request) and the composition root passes them in.
 */
export interface ProviderPages {
  /** RP-initiated logout asks first; `form` is oidc-provider's hidden form (action, xsrf token) the buttons submit. */
  logoutConfirmation(ctx: Context, form: string, client: string | undefined): string;
  /** After RP-initiated logout, for the client that asked for it. */
  signedOut(ctx: Context, client: ClientLinks | undefined): string;
  /** oidc-provider's renderError: an error shown to the browser instead of a redirect to the client. */
  error(ctx: Context, out: ProtocolError): string;
  /** A request_uri refused before oidc-provider sees it (par-single-use.ts), worded as oidc-provider's own refusal. */
  requestUriRefused(ctx: Context, out: ProtocolError): string;
}

/** What a page may offer of a client: its name and home page (the way back to the app). */
export interface ClientLinks {
  name: string;
  uri?: string | undefined;
}

/** An OAuth error as oidc-provider hands it to renderError (RFC 6749 4.1.2.1). */
export interface ProtocolError {
  error: string;
  error_description?: string | undefined;
}

/**
 * The HTML pages the protocol itself answers with. The protocol rooms render no views: the web layer writes these
 * pages and the composition root passes them in.
 */
export interface ProviderPages {
  /** RP-initiated logout asks first; `form` is oidc-provider's hidden form (action, xsrf token) the buttons submit. */
  logoutConfirmation(form: string, client: string | undefined): string;
  /** After RP-initiated logout, for the client that asked for it. */
  signedOut(client: string | undefined): string;
  /** oidc-provider's renderError: an error shown to the browser instead of a redirect to the client. */
  error(out: ProtocolError): string;
  /** A request_uri refused before oidc-provider sees it (par-single-use.ts), worded as oidc-provider's own refusal. */
  requestUriRefused(out: ProtocolError): string;
}

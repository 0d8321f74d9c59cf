import { X509Certificate } from 'node:crypto';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';

/**
 * Mutual TLS (RFC 8705) behind a TLS-terminating proxy: the proxy verifies the TLS handshake and passes the client's
 * certificate in one header (URL-encoded PEM, nginx's $ssl_client_escaped_cert). Kluis reads that header only when it
 * is configured, and configuration requires a trusted proxy (TRUSTED_PROXIES, config/env.ts); the header is deleted
 * from every other peer's requests (http/proxy-trust.ts). The proxy must set it on every request, overwriting
 * whatever the client sent, or a client could claim a certificate it does not hold.
 *
 * Supported: self_signed_tls_client_auth (RFC 8705 2.2, the certificate is pinned by the client's registered JWKS)
 * and certificate-bound access tokens (RFC 8705 3). PKI tls_client_auth needs the CA decision at the proxy and a
 * subject match Kluis does not offer.
 */
export function mtlsFeature(header: string | undefined): Pick<NonNullable<Configuration['features']>, 'mTLS'> {
  if (!header) return { mTLS: { enabled: false } };
  return {
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      selfSignedTlsClientAuth: true,
      tlsClientAuth: false,
      getCertificate: (ctx: KoaContextWithOIDC) => certificateFromHeader(ctx.get(header)),
    },
  };
}

/** The certificate in the header's value, or undefined when there is none or it does not parse. */
function certificateFromHeader(value: string): X509Certificate | undefined {
  if (!value) return undefined;
  try {
    return new X509Certificate(decodeURIComponent(value));
  } catch {
    return undefined;
  }
}

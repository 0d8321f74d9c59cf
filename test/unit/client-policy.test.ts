import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkClientMetadata, checkRegistrableMetadata, imitatesKluis } from '../../src/oidc/clients/policy.ts';

// Kluis's rules for every client and for what a registrant may write, on plain metadata (no provider, no database).
const web = (changes: Record<string, unknown> = {}) => ({ redirect_uris: ['https://shop.example/cb'], ...changes });

/** An oidc-provider client-metadata error whose description matches `pattern`. */
const refused =
  (pattern: RegExp, error = 'invalid_client_metadata') =>
  (err: unknown) => {
    const { error: code, error_description: description } = err as { error?: string; error_description?: string };
    return code === error && pattern.test(description ?? '');
  };
// oidc-provider reports a client metadata error about redirect_uris as invalid_redirect_uri.
const badRedirect = (pattern: RegExp) => refused(pattern, 'invalid_redirect_uri');

describe('every client', () => {
  test('redirects over https; plain http is refused in production, even on a loopback address', () => {
    checkClientMetadata(web(), true);
    const plain = web({ redirect_uris: ['http://shop.example/cb'] });
    assert.throws(() => checkClientMetadata(plain, true), badRedirect(/redirect_uris must use https/));
    assert.throws(() => checkClientMetadata(plain, false), badRedirect(/must use https/), 'not a loopback address');
    const loopback = web({ redirect_uris: ['http://127.0.0.1:8080/cb'] });
    assert.throws(() => checkClientMetadata(loopback, true), badRedirect(/loopback addresses for native apps/));
  });

  test('a native app may redirect to http on a loopback address (RFC 8252 7.3), a web app only in development', () => {
    for (const uri of ['http://127.0.0.1:8080/cb', 'http://localhost/cb', 'http://[::1]/cb']) {
      checkClientMetadata({ application_type: 'native', redirect_uris: [uri] }, true);
      checkClientMetadata(web({ redirect_uris: [uri] }), false);
    }
  });

  test('a redirect or logout redirect with a wildcard is refused (exact matching only, RFC 9700 4.1.3)', () => {
    const wildcard = web({ redirect_uris: ['https://*.shop.example/cb'] });
    assert.throws(() => checkClientMetadata(wildcard, true), badRedirect(/redirect_uris must not contain wildcards/));
    const logout = web({ post_logout_redirect_uris: ['https://shop.example/*'] });
    assert.throws(() => checkClientMetadata(logout, true), badRedirect(/post_logout_redirect_uris must not contain/));
  });

  test('a relative redirect URI is refused before a pairwise sector is derived from it', () => {
    const relative = web({ redirect_uris: ['/cb'] });
    assert.throws(() => checkClientMetadata(relative, true), badRedirect(/must be absolute URLs/));
  });

  test('logout tokens go to https back-channel endpoints; loopback http only in development', () => {
    checkClientMetadata(web({ backchannel_logout_uri: 'https://shop.example/logout' }), true);
    checkClientMetadata(web({ backchannel_logout_uri: 'http://127.0.0.1:9000/logout' }), false);
    const loopback = web({ backchannel_logout_uri: 'http://127.0.0.1:9000/logout' });
    assert.throws(() => checkClientMetadata(loopback, true), refused(/backchannel_logout_uri must use https/));
    const plain = web({ backchannel_logout_uri: 'http://shop.example/logout' });
    assert.throws(() => checkClientMetadata(plain, false), refused(/backchannel_logout_uri must use https/));
  });

  test('a client that may introspect any token must authenticate', () => {
    checkClientMetadata(web({ introspect_any_token: true, token_endpoint_auth_method: 'client_secret_basic' }), true);
    const publicIntrospector = web({ introspect_any_token: true, token_endpoint_auth_method: 'none' });
    assert.throws(() => checkClientMetadata(publicIntrospector, true), refused(/introspect_any_token requires/));
  });

  test('payments and account access are only for FAPI 2.0 clients', () => {
    const bearer = web({ authorization_details_types: ['payment_initiation'] });
    assert.throws(() => checkClientMetadata(bearer, true), refused(/are for FAPI 2\.0 clients: set fapi_profile/));
    checkClientMetadata(web({ authorization_details_types: [] }), true);
  });
});

describe('what a registrant may write', () => {
  test('no text field holds control, formatting or invisible characters', () => {
    // A bidi override, a zero-width space, a line separator, a Hangul filler, a variation selector, a bell, a lone
    // surrogate.
    const samples = ['Shop\u202eevil', 'Sh\u200bop', 'Shop\u2028', '\u3164Shop', 'Sho\ufe0fp', 'Shop\u0007', 'S\ud800'];
    for (const name of samples) {
      const metadata = web({ client_name: name });
      assert.throws(() => checkRegistrableMetadata(metadata, true), refused(/client_name must not contain/), name);
    }
    const contacts = web({ contacts: ['ops@shop.example', 'a\u0000b@shop.example'] });
    assert.throws(() => checkRegistrableMetadata(contacts, true), refused(/contacts must not contain/));
    checkRegistrableMetadata(web({ client_name: 'Épargne & Co — Zürich' }), true);
  });

  test('a name that passes for Kluis is refused; a word only ending in it is allowed', () => {
    const kluis = web({ client_name: 'Kluis Bank' });
    assert.throws(() => checkRegistrableMetadata(kluis, true), refused(/client_name must not name Kluis/));
    checkRegistrableMetadata(web({ client_name: 'Spaarkluis' }), true);
  });

  test('lengths are bounded: name, software fields, URIs, redirect lists and contacts', () => {
    const check = (changes: Record<string, unknown>) => () => checkRegistrableMetadata(web(changes), false);
    check({ client_name: 'n'.repeat(100) })();
    assert.throws(check({ client_name: 'n'.repeat(101) }), refused(/client_name must be at most 100 characters/));
    assert.throws(check({ software_id: 's'.repeat(256) }), refused(/software_id must be at most 255 characters/));
    const longUri = `https://shop.example/${'p'.repeat(2000)}`;
    assert.throws(check({ policy_uri: longUri }), refused(/policy_uri must be at most 2000 characters/));
    assert.throws(check({ redirect_uris: [longUri] }), badRedirect(/redirect_uris must be at most 2000 characters/));
    const many = Array.from({ length: 21 }, (_, i) => `https://shop.example/cb${i}`);
    assert.throws(check({ redirect_uris: many }), badRedirect(/redirect_uris must list at most 20 URIs/));
    const contacts = Array.from({ length: 11 }, (_, i) => `ops${i}@shop.example`);
    assert.throws(check({ contacts }), refused(/contacts must list at most 10 addresses/));
  });

  test('with an https issuer, the pages and keys a client points to are https too', () => {
    for (const field of ['client_uri', 'policy_uri', 'tos_uri', 'logo_uri', 'initiate_login_uri', 'jwks_uri']) {
      const metadata = web({ [field]: 'http://shop.example/page' });
      assert.throws(() => checkRegistrableMetadata(metadata, true), refused(new RegExp(`${field} must use https`)));
      checkRegistrableMetadata(metadata, false);
    }
  });
});

describe('names that pass for Kluis', () => {
  test('a word starting with Kluis, whatever the case, accents, look-alike letters or separators', () => {
    const names = [
      'Kluis',
      'kluis app',
      'KLUIS',
      'Klüis',
      'K.l.u.i.s',
      'K l u i s',
      'Кluis',
      'K1uis',
      'KIuis',
      'ｋｌｕｉｓ',
    ];
    for (const name of names) {
      assert.equal(imitatesKluis(name), true, name);
    }
    assert.equal(imitatesKluis('My Kluisje'), true, 'a later word starting with it');
  });

  test('a word that only ends in Kluis, or another name, is not Kluis', () => {
    for (const name of ['Spaarkluis', 'Budget app', 'Klus', 'Kuils']) assert.equal(imitatesKluis(name), false, name);
  });
});

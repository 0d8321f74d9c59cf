import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { Provider, type Client, type ClientMetadata, type KoaContextWithOIDC } from 'oidc-provider';
import { pairwiseSubject, sectorOf } from '../../src/oidc/subjects/pairwise.ts';

// OIDC Core 8.1 sectors and pairwise subjects, on clients as oidc-provider builds them from metadata (its in-memory
// client store: no database, no server).
const CLIENTS: ClientMetadata[] = [
  { client_id: 'shop', client_secret: 's', redirect_uris: ['https://shop.example/cb'] },
  { client_id: 'shop-app', client_secret: 's', redirect_uris: ['https://shop.example/a', 'https://shop.example/b'] },
  { client_id: 'fqdn', client_secret: 's', redirect_uris: ['https://shop.example./cb'] },
  { client_id: 'bank', client_secret: 's', redirect_uris: ['https://bank.example/cb'] },
  ...['http://127.0.0.1:8080/cb', 'http://localhost/cb', 'http://[::1]/cb', 'com.example.app:/cb'].map((uri, i) => ({
    client_id: `native-${i}`,
    application_type: 'native' as const,
    token_endpoint_auth_method: 'none' as const,
    redirect_uris: [uri],
  })),
  ...['https://printer.local/cb', 'https://nas.home.arpa/cb', 'https://app.internal/cb', 'https://10.0.0.7/cb'].map(
    (uri, i) => ({ client_id: `private-${i}`, client_secret: 's', redirect_uris: [uri] }),
  ),
  { client_id: 'm2m', client_secret: 's', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
];
const clients = new Map<string, Client>();

before(async () => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const provider = new Provider('https://kluis.example', {
    clients: CLIENTS,
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'unit', alg: 'ES256', use: 'sig' }] },
    subjectTypes: ['public', 'pairwise'],
    clientDefaults: { subject_type: 'pairwise', id_token_signed_response_alg: 'ES256' },
    features: { devInteractions: { enabled: false }, clientCredentials: { enabled: true } },
  });
  for (const { client_id: id } of CLIENTS) clients.set(id, (await provider.Client.find(id))!);
});
const client = (id: string) => clients.get(id)!;

describe('the sector of a client', () => {
  test("is the host of its redirect URI: one party's clients on one host share it", () => {
    assert.equal(sectorOf(client('shop')), 'shop.example');
    assert.equal(sectorOf(client('shop-app')), 'shop.example');
    assert.equal(sectorOf(client('bank')), 'bank.example');
  });

  test('a fully qualified host (with the root dot) is the same party as without it', () => {
    assert.equal(sectorOf(client('fqdn')), 'shop.example');
  });

  test('a loopback or private-use-scheme redirect names nobody: the native app is its own sector', () => {
    for (let i = 0; i < 4; i++) assert.equal(sectorOf(client(`native-${i}`)), `client:native-${i}`);
  });

  test('a non-public name or address (.local, .home.arpa, .internal, private IP) is no shared sector', () => {
    for (let i = 0; i < 4; i++) assert.equal(sectorOf(client(`private-${i}`)), `client:private-${i}`);
  });

  test('a client without redirect URIs (machine to machine) is its own sector', () => {
    assert.equal(sectorOf(client('m2m')), 'client:m2m');
  });
});

describe('pairwise subjects', () => {
  const ctx = undefined as unknown as KoaContextWithOIDC;
  const subject = pairwiseSubject('a server secret for pairwise subjects');

  test('clients of one sector see one value for a person, and it never changes', async () => {
    const shop = await subject(ctx, 'account-1', client('shop'));
    assert.equal(await subject(ctx, 'account-1', client('shop-app')), shop);
    assert.equal(await subject(ctx, 'account-1', client('fqdn')), shop);
    assert.equal(await subject(ctx, 'account-1', client('shop')), shop);
    assert.match(shop, /^[\w-]{43}$/, 'HMAC-SHA256, base64url');
  });

  test('other sectors, other people and another server secret give unlinkable values', async () => {
    const shop = await subject(ctx, 'account-1', client('shop'));
    assert.notEqual(await subject(ctx, 'account-1', client('bank')), shop);
    assert.notEqual(await subject(ctx, 'account-2', client('shop')), shop);
    assert.notEqual(await pairwiseSubject('another secret')(ctx, 'account-1', client('shop')), shop);
    const natives = await Promise.all([0, 1].map((i) => subject(ctx, 'account-1', client(`native-${i}`))));
    assert.notEqual(natives[0], natives[1], 'two apps on 127.0.0.1 and localhost do not share a sub');
  });
});

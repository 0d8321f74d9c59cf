import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { tempDir } from './tempdir.ts';

export interface TlsSite {
  /** https://localhost:PORT */
  origin: string;
  /** The self-signed certificate, for NODE_EXTRA_CA_CERTS of a process that must trust the site. */
  certFile: string;
  /** TCP connections the site has accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** A fresh self-signed P-256 certificate for `subject`, written as key.pem and cert.pem under `dir`. */
export function selfSignedCertificate(
  dir: string,
  subject = '/CN=localhost',
  name = 'cert',
): { keyFile: string; certFile: string } {
  const keyFile = path.join(dir, `${name}-key.pem`);
  const certFile = path.join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      subject,
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { keyFile, certFile };
}

/** Answers one path of a {@link startTlsSite} itself (a hostile server: endless bodies, silence). */
export type TlsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * An https site on localhost serving fixed JSON documents by path (e.g. a sector_identifier_uri), or answering a
 * path with a {@link TlsHandler}, with a fresh certificate.
 */
export async function startTlsSite(
  documents: Record<string, unknown>,
  handlers: Record<string, TlsHandler> = {},
): Promise<TlsSite> {
  const dir = await tempDir('kluis-tls');
  const { keyFile, certFile } = selfSignedCertificate(dir.path);
  const server = createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (req, res) => {
    const handler = handlers[req.url ?? ''];
    if (handler) return handler(req, res);
    const document = documents[req.url ?? ''];
    if (document === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document));
  });
  let connections = 0;
  server.on('connection', () => (connections += 1));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `https://localhost:${port}`,
    certFile,
    get connections() {
      return connections;
    },
    async close() {
      server.close();
      server.closeAllConnections();
      await dir.remove();
    },
  };
}

/**
 * A path of a {@link startTlsSite} that holds every request until the test calls `release()`, then answers
 * `document`: it keeps a sector_identifier_uri fetch (and so the registration waiting on it) in flight for exactly
 * as long as a test needs. `arrived(n)` resolves once `n` requests are held.
 */
export function heldDocument(document: unknown) {
  let held = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const waiting: { n: number; resolve: () => void }[] = [];
  const handler: TlsHandler = (_req, res) => {
    held += 1;
    for (const waiter of waiting) if (held >= waiter.n) waiter.resolve();
    void released.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document)));
  };
  const arrived = (n: number) => new Promise<void>((resolve) => (held >= n ? resolve() : waiting.push({ n, resolve })));
  return {
    handler,
    arrived,
    release,
    get held() {
      return held;
    },
  };
}

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { AuditChainBroken } from '../../src/audit/chain.ts';
import {
  ClientExists,
  ClientNotFound,
  ClientWithoutSecret,
  InvalidMetadata,
  InvalidResourceServer,
  ReservedClient,
  ResourceServerExists,
  ResourceServerNotFound,
} from '../../src/clients/errors.ts';
import { CliError } from '../../src/cli/context.ts';
import { ConfigError } from '../../src/config/env.ts';
import { ConsentNotFound } from '../../src/consents/consents.ts';
import { EmbeddedPostgresError } from '../../src/db/embedded.ts';
import { DatabaseUnavailable, RowAlreadyConsumed, UniqueViolation, UnstorableInput } from '../../src/db/errors.ts';
import { MigrationError } from '../../src/db/migrate.ts';
import { type KluisError, shownMessage } from '../../src/errors.ts';
import { OutboundFailure } from '../../src/oidc/clients/outbound.ts';
import { InvalidPerson, UserExists, UsernameRetired, UserNotFound } from '../../src/people/errors.ts';
import { DecryptionFailed } from '../../src/secrets/secret-box.ts';
import { CatalogueError } from '../../src/i18n/catalogues.ts';
import { ROOT } from '../support/kluis.ts';

// Codes are part of Kluis's interface (callers, logs and the CLI's JSON switch on them): a change must be deliberate.
const expected: Record<string, string> = {
  AuditChainBroken: 'ERR_AUDIT_CHAIN_BROKEN',
  CatalogueError: 'ERR_CATALOGUE',
  CliError: 'ERR_CLI_USAGE',
  ClientExists: 'ERR_CLIENT_EXISTS',
  ClientNotFound: 'ERR_CLIENT_NOT_FOUND',
  ClientWithoutSecret: 'ERR_CLIENT_WITHOUT_SECRET',
  ConfigError: 'ERR_CONFIG',
  ConsentNotFound: 'ERR_CONSENT_NOT_FOUND',
  DatabaseUnavailable: 'ERR_DATABASE_UNAVAILABLE',
  DecryptionFailed: 'ERR_DECRYPTION_FAILED',
  EmbeddedPostgresError: 'ERR_EMBEDDED_POSTGRES',
  InvalidMetadata: 'ERR_INVALID_METADATA',
  InvalidPerson: 'ERR_INVALID_PERSON',
  InvalidResourceServer: 'ERR_INVALID_RESOURCE_SERVER',
  MigrationError: 'ERR_MIGRATION',
  OutboundFailure: 'ERR_OUTBOUND',
  ReservedClient: 'ERR_CLIENT_RESERVED',
  ResourceServerExists: 'ERR_RESOURCE_SERVER_EXISTS',
  ResourceServerNotFound: 'ERR_RESOURCE_SERVER_NOT_FOUND',
  RowAlreadyConsumed: 'ERR_ALREADY_CONSUMED',
  UniqueViolation: 'ERR_UNIQUE_VIOLATION',
  UnstorableInput: 'ERR_UNSTORABLE_INPUT',
  UserExists: 'ERR_USER_EXISTS',
  UserNotFound: 'ERR_USER_NOT_FOUND',
  UsernameRetired: 'ERR_USERNAME_RETIRED',
};

// One instance of every exported KluisError subclass in src, made with the arguments its constructor takes.
const errors: KluisError[] = [
  new AuditChainBroken('audit chain broken at event 2'),
  new CatalogueError('locales/nl.json: message "x" is not valid ICU MessageFormat'),
  new CliError('usage'),
  new ClientExists('client-1'),
  new ClientNotFound('client-1'),
  new ClientWithoutSecret('no secret'),
  new ConfigError('PORT must be a TCP port number'),
  new ConsentNotFound('no consent'),
  new DatabaseUnavailable('database down'),
  new DecryptionFailed('cannot decrypt'),
  new EmbeddedPostgresError('cannot start'),
  new InvalidMetadata('bad metadata'),
  new InvalidPerson('bad username'),
  new InvalidResourceServer('bad resource'),
  new MigrationError('cannot migrate'),
  new OutboundFailure('cannot fetch'),
  new ReservedClient('reserved'),
  new ResourceServerExists('https://api.example'),
  new ResourceServerNotFound('https://api.example'),
  new RowAlreadyConsumed('AuthorizationCode'),
  new UniqueViolation('accounts_username_key'),
  new UnstorableInput('NUL in a value'),
  new UserExists('exists'),
  new UserNotFound('alice'),
  new UsernameRetired('retired'),
];

/**
 * `export class X extends KluisError` in src. PageError (src/web/error-page.ts) is left out: it carries the code
 * of the refusal it renders, chosen where it is thrown, rather than one of its own.
 */
function declaredSubclasses(): string[] {
  const src = path.join(ROOT, 'src');
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  const declared = /^export class (\w+) extends KluisError\b/gm;
  return files
    .flatMap((file) => [...readFileSync(path.join(src, file), 'utf8').matchAll(declared)])
    .map((match) => match[1]!)
    .filter((name) => name !== 'PageError')
    .sort();
}

describe('the error model', () => {
  test('every exported KluisError subclass in src has its own stable code', () => {
    const codes = Object.fromEntries(errors.map((err) => [err.constructor.name, err.code]));
    assert.deepEqual(codes, expected);
    assert.equal(new Set(Object.values(codes)).size, errors.length, 'two classes share a code');
  });

  test('the list above is complete: a new KluisError subclass must be given a code here', () => {
    assert.deepEqual(declaredSubclasses(), Object.keys(expected).sort());
  });

  test('codes read ERR_WORDS, names are the class names, statuses are HTTP error statuses', () => {
    for (const err of errors) {
      assert.match(err.code, /^ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/, err.constructor.name);
      assert.equal(err.name, err.constructor.name);
      assert.ok(err.status >= 400 && err.status <= 599, `${err.name}: ${err.status}`);
      assert.ok(err instanceof Error);
    }
  });

  test('an operator sees the message of an exposable Kluis error and nothing of any other error', () => {
    for (const err of errors) assert.equal(shownMessage(err), err.expose ? err.message : undefined, err.name);
    assert.equal(shownMessage(new DecryptionFailed('key material')), undefined);
    assert.equal(shownMessage(new Error('a bug with a secret in it')), undefined);
    assert.equal(shownMessage('a thrown string'), undefined);
  });
});

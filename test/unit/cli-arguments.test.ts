import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Arguments } from '../../src/cli/arguments.ts';
import { CliError } from '../../src/cli/context.ts';

// How the CLI reads argv into a command's input: every mistake is one CliError, worded for the command line.
const refused = (work: () => unknown, message: RegExp) =>
  assert.throws(work, (err: unknown) => err instanceof CliError && message.test(err.message));

describe('kluis argv', () => {
  test('the command is the first two words, migrate alone', () => {
    assert.equal(new Arguments(['clients', 'show', 'abc']).command, 'clients show');
    assert.equal(new Arguments(['migrate', 'extra']).command, 'migrate');
    assert.equal(new Arguments(['clients', 'show', 'abc']).argument(2, 'client id'), 'abc');
    refused(() => new Arguments(['clients', 'show']).argument(2, 'client id'), /^missing client id; see kluis --help$/);
  });

  test('an unknown option is refused', () => {
    refused(() => new Arguments(['keys', 'list', '--bogus']), /^Unknown option '--bogus'/);
  });

  test('whole numbers within bounds; absent is undefined, anything else is refused', () => {
    const bounds = { min: 30, max: 600 };
    assert.equal(new Arguments(['resources', 'add', '--ttl', '300']).number('ttl', bounds), 300);
    assert.equal(new Arguments(['resources', 'add']).number('ttl', bounds), undefined);
    for (const value of ['29', '601', '1e2', '3.5', 'soon', '']) {
      refused(
        () => new Arguments(['resources', 'add', '--ttl', value]).number('ttl', bounds),
        /^--ttl must be a whole number of seconds between 30 and 600$/,
      );
    }
  });

  test('a choice names what it allows', () => {
    assert.equal(
      new Arguments(['resources', 'add', '--alg', 'PS256']).choice('alg', ['ES256', 'PS256', 'EdDSA']),
      'PS256',
    );
    refused(
      () => new Arguments(['resources', 'add', '--alg', 'HS256']).choice('alg', ['ES256', 'PS256', 'EdDSA']),
      /^--alg must be ES256, PS256 or EdDSA$/,
    );
  });

  test('--since is a date or refused', () => {
    assert.equal(
      new Arguments(['audit', 'export', '--since', '2026-11-01T00:00:00Z']).since()?.getTime(),
      1793491200000,
    );
    refused(() => new Arguments(['audit', 'export', '--since', 'yesterday']).since(), /^--since must be an ISO 8601/);
  });

  test('--metadata must be one JSON object', async () => {
    const metadata = (json: string) => new Arguments(['clients', 'add', '--metadata', json]).metadata();
    assert.deepEqual(await metadata('{"client_name":"Ledger"}'), { client_name: 'Ledger' });
    await assert.rejects(
      metadata('{"a": ['),
      (err: unknown) => err instanceof CliError && /not valid JSON/.test(err.message),
    );
    for (const json of ['[]', 'null', '"x"']) {
      await assert.rejects(metadata(json), /^CliError: client metadata must be a JSON object$/);
    }
  });
});

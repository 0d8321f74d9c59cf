import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { Arguments } from '../../src/cli/arguments.ts';
import { CliError } from '../../src/cli/context.ts';
import { readRequest } from '../../src/cli/dispatch.ts';

// How the CLI reads argv, before it opens anything: what it prints, the command it runs with that command's input,
// and every mistake as one CliError, worded for the command line.
const refused = (work: () => unknown, message: RegExp) =>
  assert.throws(work, (err: unknown) => err instanceof CliError && message.test(err.message));

function argsOf(argv: string[]): Arguments {
  const request = readRequest(argv);
  assert.ok('args' in request, `${argv.join(' ')} runs a command`);
  return request.args;
}

function printed(argv: string[]): { print: string; exitCode: number } {
  const request = readRequest(argv);
  assert.ok('print' in request, `${argv.join(' ')} prints`);
  return request;
}

describe('kluis argv', () => {
  test('the command is the first two words, migrate alone; its arguments follow', () => {
    const request = readRequest(['clients', 'show', 'abc']);
    assert.ok('name' in request);
    assert.equal(request.name, 'clients show');
    assert.equal(request.args.argument(2, 'client id'), 'abc');
    const migrate = readRequest(['migrate']);
    assert.ok('name' in migrate);
    assert.equal(migrate.name, 'migrate');
    refused(
      () => argsOf(['clients', 'show']).argument(2, 'client id'),
      /^missing client id; see kluis clients show --help$/,
    );
  });

  test('--help prints the whole usage, a group of commands or one command, exit status 0; nothing alone is 1', () => {
    const all = printed(['--help']);
    assert.equal(all.exitCode, 0);
    assert.match(all.print, /^usage: kluis <command>/);
    assert.match(all.print, /^ {2}resources add URI --scope "a b" \[--format jwt\|opaque\]/m);
    const one = printed(['clients', 'add', '--help']);
    assert.equal(one.exitCode, 0);
    assert.match(one.print, /^usage: kluis clients add \[--metadata JSON\]\n\nregister a client/);
    assert.doesNotMatch(one.print, /clients list/);
    const group = printed(['users', '--help']);
    assert.match(group.print, /^usage: kluis users <command>/);
    assert.match(group.print, /users reset-mfa USERNAME/);
    assert.doesNotMatch(group.print, /clients/);
    assert.equal(printed([]).exitCode, 1);
    for (const line of all.print.split('\n')) assert.ok(line.length <= 110, `within 110 characters: ${line}`);
  });

  test('--version prints the version in package.json', () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.deepEqual(printed(['--version']), { print: version, exitCode: 0 });
  });

  test('a mistyped command is refused naming the command probably meant, or the help when none is close', () => {
    refused(() => readRequest(['client', 'list']), /^unknown command "client list"; did you mean "clients list"\?$/);
    refused(() => readRequest(['users', 'ad', 'x']), /^unknown command "users ad"; did you mean "users add"\?$/);
    refused(() => readRequest(['clinets', 'lsit']), /did you mean "clients list"\?$/);
    refused(() => readRequest(['migrat']), /^unknown command "migrat"; did you mean "migrate"\?$/);
    refused(() => readRequest(['clients', 'frobnicate']), /^unknown command "clients frobnicate"; see kluis --help$/);
    refused(() => readRequest(['keys']), /^keys needs a command: list, rotate; see kluis keys --help$/);
  });

  test('an option the command does not take, an unknown one or an argument too many is refused', () => {
    refused(
      () => readRequest(['keys', 'list', '--bogus']),
      /^keys list does not take --bogus; see kluis keys list --help$/,
    );
    refused(() => readRequest(['clients', 'list', '--scope', 'a']), /^clients list does not take --scope;/);
    refused(() => readRequest(['clients', 'list', '--version']), /^clients list does not take --version;/);
    refused(() => readRequest(['--bogus']), /^unknown option --bogus; see kluis --help$/);
    refused(
      () => readRequest(['clients', 'show', 'a', 'b']),
      /^unexpected argument "b"; see kluis clients show --help$/,
    );
    refused(
      () => readRequest(['resources', 'add', 'https://a.example/', '--scope']),
      /^Option '--scope <value>' argument missing; see kluis resources add --help$/,
    );
    assert.equal(argsOf(['consents', 'revoke', 'alice', 'client-1']).positionals[3], 'client-1');
  });

  test('whole numbers within bounds; absent is undefined, anything else is refused', () => {
    const bounds = { min: 30, max: 600 };
    const add = ['resources', 'add', 'https://a.example/'];
    assert.equal(argsOf([...add, '--ttl', '300']).number('ttl', bounds), 300);
    assert.equal(argsOf(add).number('ttl', bounds), undefined);
    for (const value of ['29', '601', '1e2', '3.5', 'soon', '']) {
      refused(
        () => argsOf([...add, '--ttl', value]).number('ttl', bounds),
        /^--ttl must be a whole number of seconds between 30 and 600$/,
      );
    }
  });

  test('a choice names what it allows', () => {
    const add = ['resources', 'add', 'https://a.example/'];
    assert.equal(argsOf([...add, '--alg', 'PS256']).choice('alg', ['ES256', 'PS256', 'EdDSA']), 'PS256');
    refused(
      () => argsOf([...add, '--alg', 'HS256']).choice('alg', ['ES256', 'PS256', 'EdDSA']),
      /^--alg must be ES256, PS256 or EdDSA$/,
    );
  });

  test('--since is a date or refused', () => {
    assert.equal(argsOf(['audit', 'export', '--since', '2026-11-01T00:00:00Z']).since()?.getTime(), 1793491200000);
    refused(() => argsOf(['audit', 'export', '--since', 'yesterday']).since(), /^--since must be an ISO 8601/);
  });

  test('--metadata must be one JSON object', async () => {
    const metadata = (json: string) => argsOf(['clients', 'add', '--metadata', json]).metadata();
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

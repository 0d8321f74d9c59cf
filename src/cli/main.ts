import { text } from 'node:stream/consumers';
import { parseArgs } from 'node:util';
import { shownMessage } from '../errors.ts';
import { exportAudit, tailAudit, verifyAudit } from './audit.ts';
import { deleteUser, disableUser, listConsents, resetMfa, revokeConsents } from './consents.ts';
import { addClient, createIat, listClients, parseMetadata, removeClient, rotateClientSecret, setClientDisabled, showClient, updateClient } from './clients.ts';
import { CliError, openContext, type CliContext } from './context.ts';
import { listKeys, rotateKeys } from './keys.ts';
import { addResource, listResources, removeResource } from './resources.ts';
import { addUser, listUsers, passwordFromInput, unlockUser } from './users.ts';

const USAGE = `usage: kluis <command>

  migrate                                  apply pending database migrations
  clients add [--metadata JSON]            register a client (metadata JSON from --metadata or stdin);
                                           prints the stored client with its secret, once
  clients list | show ID | remove ID
  clients update ID [--metadata JSON]       merge metadata (JSON from --metadata or stdin; null removes a field)
  clients rotate-secret ID [--grace SECONDS]
                                           new secret, printed once; the old one works for the grace period
                                           (default CLIENT_SECRET_ROTATION_GRACE)
  clients disable ID | enable ID           a disabled client cannot authenticate; its codes and tokens are revoked
  iat create [--expires-in SECONDS] [--single-use]
                                           an initial access token for dynamic client registration (POST /reg),
                                           printed once; default expiry 86400 s
  keys list                                signing keys with their state
  keys rotate                              new keys now, signing after KEY_ROTATION_OVERLAP
  resources add URI --scope "a b" [--format jwt|opaque] [--alg ES256|PS256|EdDSA] [--ttl SECONDS]
  resources list | remove URI
  users add USERNAME [--email ADDRESS] [--name "Full Name"] [--totp]
                                           add a person; the password is read from stdin; --totp pre-enrols
                                           an authenticator and prints its otpauth:// URI once; without it
                                           prints a single-use activation code (ACTIVATION_CODE_TTL), to hand
                                           over out of band: the account cannot sign in until activated with it
  users list | unlock USERNAME
  users disable USERNAME                   refuse sign-in; revoke every consent, end every session and token
  users reset-mfa USERNAME                 remove the authenticator, revoke every consent, end every session
                                           and token; prints a new activation code
  users delete USERNAME                    erase the person (GDPR Art 17): consents revoked, personal data gone
  audit verify                             check the tamper-evident chain; exit 1 naming the first broken event
  audit tail [--limit N]                   the newest N events (default 20) as JSON lines
  audit export [--since ISO-8601]          every event (since a time) as JSON lines, for a SIEM
  consents list USERNAME                   the person's consents, per client
  consents revoke USERNAME [CLIENT_ID]     withdraw one client's consent, or all of them, as the operator

Configuration comes from the same environment variables as the server (docs/configuration.md).`;

const { values, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        metadata: { type: 'string' },
        scope: { type: 'string' },
        format: { type: 'string' },
        alg: { type: 'string' },
        ttl: { type: 'string' },
        email: { type: 'string' },
        name: { type: 'string' },
        totp: { type: 'boolean' },
        grace: { type: 'string' },
        'expires-in': { type: 'string' },
        'single-use': { type: 'boolean' },
        limit: { type: 'string' },
        since: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail((err as Error).message);
  }
})();

function fail(message: string): never {
  process.stderr.write(`kluis: ${message}\n`);
  process.exit(1);
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function writeLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

function argument(index: number, what: string): string {
  const value = positionals[index];
  if (!value) throw new CliError(`missing ${what}; see kluis --help`);
  return value;
}

async function metadataInput(): Promise<string> {
  if (values.metadata !== undefined) return values.metadata;
  return stdin('give the client metadata as JSON on stdin or with --metadata');
}

async function stdin(missing: string): Promise<string> {
  if (process.stdin.isTTY) throw new CliError(missing);
  return text(process.stdin);
}

/** A whole number from an option, within bounds; anything else is refused in one line. */
function numberOption(name: string, value: string | undefined, fallback: number, min: number, max: number, unit = ' of seconds'): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) throw new CliError(`--${name} must be a whole number${unit} between ${min} and ${max}`);
  return number;
}

type Command = (ctx: CliContext) => Promise<unknown>;

const COMMANDS: Record<string, Command> = {
  // openContext has already applied pending migrations; report the schema version reached.
  migrate: async (ctx) => {
    const { rows } = await ctx.db.query<{ version: number }>('select max(version) as version from schema_migrations');
    return { schema_version: rows[0]?.version ?? 0 };
  },
  'clients add': async (ctx) => addClient(ctx, parseMetadata(await metadataInput())),
  'clients list': listClients,
  'clients show': (ctx) => showClient(ctx, argument(2, 'client id')),
  'clients remove': async (ctx) => ({ removed: argument(2, 'client id'), artefacts_revoked: await removeClient(ctx, argument(2, 'client id')) }),
  'clients update': async (ctx) => updateClient(ctx, argument(2, 'client id'), parseMetadata(await metadataInput())),
  'clients rotate-secret': (ctx) =>
    rotateClientSecret(ctx, argument(2, 'client id'), numberOption('grace', values.grace, ctx.config.registration.secretRotationGrace, 0, 30 * 86400)),
  'clients disable': (ctx) => setClientDisabled(ctx, argument(2, 'client id'), true),
  'clients enable': (ctx) => setClientDisabled(ctx, argument(2, 'client id'), false),
  'iat create': (ctx) => createIat(ctx, numberOption('expires-in', values['expires-in'], 86400, 60, 365 * 86400), values['single-use'] === true),
  'keys list': listKeys,
  'keys rotate': rotateKeys,
  'resources add': (ctx) => addResource(ctx, argument(2, 'resource identifier'), values),
  'resources list': listResources,
  'users add': async (ctx) =>
    addUser(ctx, argument(2, 'username'), passwordFromInput(await stdin('give the password on stdin, e.g. from a password manager or `read -s`')), values),
  'users list': listUsers,
  'users disable': (ctx) => disableUser(ctx, argument(2, 'username')),
  'users unlock': (ctx) => unlockUser(ctx, argument(2, 'username')),
  'users reset-mfa': (ctx) => resetMfa(ctx, argument(2, 'username')),
  'users delete': (ctx) => deleteUser(ctx, argument(2, 'username')),
  'audit verify': verifyAudit,
  'audit tail': (ctx) => tailAudit(ctx, numberOption('limit', values.limit, 20, 1, 100000, ''), writeLine),
  'audit export': (ctx) => exportAudit(ctx, values.since, writeLine),
  'consents list': (ctx) => listConsents(ctx, argument(2, 'username')),
  'consents revoke': (ctx) => revokeConsents(ctx, argument(2, 'username'), positionals[3]),
  'resources remove': async (ctx) => {
    await removeResource(ctx, argument(2, 'resource identifier'));
    return { removed: argument(2, 'resource identifier') };
  },
};

if (values.help || positionals.length === 0) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 1);
}

const name = positionals[0] === 'migrate' ? 'migrate' : positionals.slice(0, 2).join(' ');
const command = COMMANDS[name];
if (!command) fail(`unknown command "${positionals.join(' ')}"; see kluis --help`);

let ctx: CliContext | undefined;
try {
  ctx = await openContext();
  const result = await command(ctx);
  // Commands that stream JSON lines write them themselves and return nothing.
  if (result !== undefined) print(result);
} catch (err) {
  const shown = shownMessage(err);
  if (shown !== undefined) {
    process.exitCode = 1;
    process.stderr.write(`kluis: ${shown}\n`);
  } else {
    throw err;
  }
} finally {
  await ctx?.connection.close();
}

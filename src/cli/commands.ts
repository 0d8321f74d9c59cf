import { exportAudit, tailAudit, verifyAudit } from '../audit/chain.ts';
import { addClient } from '../clients/add.ts';
import { disableClient, enableClient } from '../clients/disable.ts';
import { issueInitialAccessToken } from '../clients/initial-access-tokens.ts';
import { listClients, showClient } from '../clients/list.ts';
import { removeClient } from '../clients/remove.ts';
import { addResourceServer, listResourceServers, removeResourceServer } from '../clients/resource-servers.ts';
import { rotateClientSecret } from '../clients/rotate-secret.ts';
import { updateClient } from '../clients/update.ts';
import { ACCESS_TOKEN_TTL_BOUNDS, SIGNING_ALGS } from '../config/protocol-constants.ts';
import { schemaVersion } from '../db/schema-version.ts';
import { addPerson } from '../people/add.ts';
import type { PeopleDeps } from '../people/deps.ts';
import { listConsentsOf, revokeConsentsOf } from '../people/consents.ts';
import { disablePerson } from '../people/disable.ts';
import { erasePerson } from '../people/erasure.ts';
import { listPeople } from '../people/list.ts';
import { resetMfa } from '../people/reset-mfa.ts';
import { unlockPerson } from '../people/unlock.ts';
import type { Arguments, OptionName } from './arguments.ts';
import { CliError, clientDeps, peopleDeps, type CliContext } from './context.ts';
import { listKeys, rotateKeys } from './keys.ts';

/** One command line's work: argv read into a domain command's input, the command's answer printed as JSON. */
type Run = (ctx: CliContext, args: Arguments, writeLine: (line: string) => void) => Promise<unknown>;

/** A command: what its usage line shows (and so what it accepts), and its work. */
export interface Command {
  /** The arguments after the command's words, as usage shows them: `ID`, `[CLIENT_ID]` (optional). */
  arguments?: readonly string[];
  /** The options it takes, in the order usage shows them. */
  options?: readonly OptionName[];
  /** Of those, the ones it cannot do without (shown without brackets). */
  required?: readonly OptionName[];
  /** What it does, for `--help`. */
  about: string;
  run: Run;
}

const clientId = (args: Arguments) => args.argument(2, 'client id');
const username = (args: Arguments) => args.argument(2, 'username');
const store = (ctx: CliContext) => ({ db: ctx.db, box: ctx.secrets.box, audit: ctx.audit });
const ID = ['ID'];
const USERNAME = ['USERNAME'];

/** A command on one person that needs the consents (src/people/): `users disable USERNAME`, …. */
const aboutPerson = (about: string, work: (deps: PeopleDeps, username: string) => Promise<unknown>): Command => ({
  arguments: USERNAME,
  about,
  run: async (ctx, args) => work(await peopleDeps(ctx), username(args)),
});

export const COMMANDS: Record<string, Command> = {
  migrate: {
    about: 'apply pending database migrations; prints the schema version reached',
    // openContext has already applied pending migrations; report the schema version reached.
    run: async (ctx) => ({ schema_version: await schemaVersion(ctx.db) }),
  },

  'clients add': {
    options: ['metadata'],
    about: 'register a client (metadata JSON from --metadata or stdin); prints the stored client with its secret, once',
    run: async (ctx, args) => addClient(await clientDeps(ctx), await args.metadata()),
  },
  'clients list': { about: 'every client, without secrets', run: (ctx) => listClients(ctx) },
  'clients show': {
    arguments: ID,
    about: 'one client, without its secret',
    run: (ctx, args) => showClient(store(ctx), clientId(args)),
  },
  'clients remove': {
    arguments: ID,
    about: 'delete the client; its codes and tokens are revoked',
    run: (ctx, args) => removeClient(ctx, clientId(args)),
  },
  'clients update': {
    arguments: ID,
    options: ['metadata'],
    about: 'merge metadata (JSON from --metadata or stdin; null removes a field)',
    run: async (ctx, args) => {
      const changes = await args.metadata();
      return updateClient(await clientDeps(ctx), clientId(args), changes);
    },
  },
  'clients rotate-secret': {
    arguments: ID,
    options: ['grace'],
    about: 'new secret, printed once; the old one works for the grace period (default CLIENT_SECRET_ROTATION_GRACE)',
    run: (ctx, args) => {
      const grace = args.number('grace', { min: 0, max: 30 * 86400 }) ?? ctx.config.registration.secretRotationGrace;
      return rotateClientSecret(store(ctx), clientId(args), grace);
    },
  },
  'clients disable': {
    arguments: ID,
    about: 'a disabled client cannot authenticate; its codes and tokens are revoked',
    run: (ctx, args) => disableClient(store(ctx), clientId(args)),
  },
  'clients enable': {
    arguments: ID,
    about: 'let a disabled client authenticate again',
    run: (ctx, args) => enableClient(store(ctx), clientId(args)),
  },
  'iat create': {
    options: ['expires-in', 'single-use'],
    about: 'an initial access token for dynamic client registration (POST /reg), printed once; default expiry 86400 s',
    run: async (ctx, args) => {
      const expiresIn = args.number('expires-in', { min: 60, max: 365 * 86400 }) ?? 86400;
      const singleUse = args.values['single-use'] === true;
      return issueInitialAccessToken(await clientDeps(ctx), { expiresIn, singleUse });
    },
  },

  'resources add': {
    arguments: ['URI'],
    options: ['scope', 'format', 'alg', 'ttl', 'title', 'description'],
    required: ['scope'],
    about:
      'register an API (RFC 8707 resource indicator) and the scopes it accepts; JWT access tokens unless --format opaque; the consent page calls it by its title and description',
    run: (ctx, args) => {
      const identifier = args.argument(2, 'resource identifier');
      const scope = args.values.scope;
      if (scope === undefined)
        throw new CliError('--scope must list the space-separated scopes this API accepts (RFC 6749 3.3)');
      return addResourceServer(ctx, {
        identifier,
        scope,
        accessTokenFormat: args.choice('format', ['jwt', 'opaque']),
        signingAlg: args.choice('alg', SIGNING_ALGS),
        accessTokenTtl: args.number('ttl', ACCESS_TOKEN_TTL_BOUNDS),
        title: args.values.title,
        description: args.values.description,
      });
    },
  },
  'resources list': { about: 'every registered API', run: (ctx) => listResourceServers(ctx) },
  'resources remove': {
    arguments: ['URI'],
    about: 'remove an API',
    run: (ctx, args) => removeResourceServer(ctx, args.argument(2, 'resource identifier')),
  },

  'keys list': { about: 'signing keys with their state', run: (ctx) => listKeys(ctx) },
  'keys rotate': {
    about: 'new keys now, signing after KEY_ROTATION_OVERLAP',
    run: (ctx) => rotateKeys({ ...store(ctx), keys: ctx.config.keys }),
  },

  'users add': {
    arguments: USERNAME,
    options: ['email', 'name', 'totp'],
    about:
      'add a person; the password is read from stdin; --totp pre-enrols an authenticator and prints its otpauth:// URI once; without it prints a single-use activation code (ACTIVATION_CODE_TTL), to hand over out of band: the account cannot sign in until activated with it',
    run: async (ctx, args) => {
      const name = username(args);
      const password = await args.password();
      const { email, name: fullName, totp } = args.values;
      return addPerson(ctx, { username: name, password, email, name: fullName, totp });
    },
  },
  'users list': { about: 'every person, without secrets', run: (ctx) => listPeople(ctx) },
  'users unlock': {
    arguments: USERNAME,
    about: 'lift a lockout after failed sign-ins',
    run: (ctx, args) => unlockPerson(ctx, username(args)),
  },
  'users disable': aboutPerson('refuse sign-in; revoke every consent, end every session and token', disablePerson),
  'users reset-mfa': aboutPerson(
    'remove the authenticator, revoke every consent, end every session and token; prints a new activation code',
    resetMfa,
  ),
  'users delete': aboutPerson('erase the person (GDPR Art 17): consents revoked, personal data gone', erasePerson),
  'consents list': aboutPerson("the person's consents, per client", listConsentsOf),
  'consents revoke': {
    arguments: ['USERNAME', '[CLIENT_ID]'],
    about: "withdraw one client's consent, or all of them, as the operator",
    run: async (ctx, args) => revokeConsentsOf(await peopleDeps(ctx), username(args), args.positionals[3]),
  },

  'audit verify': {
    about: 'check the tamper-evident chain; exit 1 naming the first broken event',
    run: (ctx) => verifyAudit(ctx),
  },
  'audit tail': {
    options: ['limit'],
    about: 'the newest N events (default 20) as JSON lines',
    run: async (ctx, args, writeLine) => {
      const limit = args.number('limit', { min: 1, max: 100000 }, '') ?? 20;
      for (const event of await tailAudit(ctx, limit)) writeLine(JSON.stringify(event));
    },
  },
  'audit export': {
    options: ['since'],
    about: 'every event (since a time) as JSON lines, for a SIEM',
    run: async (ctx, args, writeLine) => {
      for await (const event of exportAudit(ctx, args.since())) writeLine(JSON.stringify(event));
    },
  },
};

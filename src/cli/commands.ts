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
import { listConsentsOf, revokeConsentsOf } from '../people/consents.ts';
import { disablePerson } from '../people/disable.ts';
import { erasePerson } from '../people/erasure.ts';
import { listPeople } from '../people/list.ts';
import { resetMfa } from '../people/reset-mfa.ts';
import { unlockPerson } from '../people/unlock.ts';
import type { Arguments } from './arguments.ts';
import { CliError, clientDeps, peopleDeps, type CliContext } from './context.ts';
import { listKeys, rotateKeys } from './keys.ts';

/** One command line's work: argv read into a domain command's input, the command's answer printed as JSON. */
type Command = (ctx: CliContext, args: Arguments, writeLine: (line: string) => void) => Promise<unknown>;

const clientId = (args: Arguments) => args.argument(2, 'client id');
const username = (args: Arguments) => args.argument(2, 'username');
const store = (ctx: CliContext) => ({ db: ctx.db, box: ctx.secrets.box, audit: ctx.audit });

export const COMMANDS: Record<string, Command> = {
  // openContext has already applied pending migrations; report the schema version reached.
  migrate: async (ctx) => ({ schema_version: await schemaVersion(ctx.db) }),

  'clients add': async (ctx, args) => addClient(await clientDeps(ctx), await args.metadata()),
  'clients list': (ctx) => listClients(ctx),
  'clients show': (ctx, args) => showClient(store(ctx), clientId(args)),
  'clients remove': (ctx, args) => removeClient(ctx, clientId(args)),
  'clients update': async (ctx, args) => {
    const changes = await args.metadata();
    return updateClient(await clientDeps(ctx), clientId(args), changes);
  },
  'clients rotate-secret': (ctx, args) => {
    const grace = args.number('grace', { min: 0, max: 30 * 86400 }) ?? ctx.config.registration.secretRotationGrace;
    return rotateClientSecret(store(ctx), clientId(args), grace);
  },
  'clients disable': (ctx, args) => disableClient(store(ctx), clientId(args)),
  'clients enable': (ctx, args) => enableClient(store(ctx), clientId(args)),
  'iat create': async (ctx, args) => {
    const expiresIn = args.number('expires-in', { min: 60, max: 365 * 86400 }) ?? 86400;
    return issueInitialAccessToken(await clientDeps(ctx), { expiresIn, singleUse: args.values['single-use'] === true });
  },

  'resources add': (ctx, args) => {
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
  'resources list': (ctx) => listResourceServers(ctx),
  'resources remove': (ctx, args) => removeResourceServer(ctx, args.argument(2, 'resource identifier')),

  'keys list': (ctx) => listKeys(ctx),
  'keys rotate': (ctx) => rotateKeys({ ...store(ctx), keys: ctx.config.keys }),

  'users add': async (ctx, args) => {
    const name = username(args);
    const password = await args.password();
    const { email, name: fullName, totp } = args.values;
    return addPerson(ctx, { username: name, password, email, name: fullName, totp });
  },
  'users list': (ctx) => listPeople(ctx),
  'users unlock': (ctx, args) => unlockPerson(ctx, username(args)),
  'users disable': async (ctx, args) => disablePerson(await peopleDeps(ctx), username(args)),
  'users reset-mfa': async (ctx, args) => resetMfa(await peopleDeps(ctx), username(args)),
  'users delete': async (ctx, args) => erasePerson(await peopleDeps(ctx), username(args)),
  'consents list': async (ctx, args) => listConsentsOf(await peopleDeps(ctx), username(args)),
  'consents revoke': async (ctx, args) => revokeConsentsOf(await peopleDeps(ctx), username(args), args.positionals[3]),

  'audit verify': (ctx) => verifyAudit(ctx),
  'audit tail': async (ctx, args, writeLine) => {
    const limit = args.number('limit', { min: 1, max: 100000 }, '') ?? 20;
    for (const event of await tailAudit(ctx, limit)) writeLine(JSON.stringify(event));
  },
  'audit export': async (ctx, args, writeLine) => {
    for await (const event of exportAudit(ctx, args.since())) writeLine(JSON.stringify(event));
  },
};

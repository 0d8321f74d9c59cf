import { Arguments, commandLine } from './arguments.ts';
import { COMMANDS, type Command } from './commands.ts';
import { CliError } from './context.ts';
import { closest } from './suggest.ts';
import { commandUsage, groupUsage, usage, version } from './usage.ts';

/** What argv asks for: text to print (usage, the version) with an exit status, or a command to run. */
export type Request = { print: string; exitCode: number } | { name: string; command: Command; args: Arguments };

const NAMES = Object.keys(COMMANDS);
const GROUPS = [...new Set(NAMES.filter((name) => name.includes(' ')).map((name) => name.split(' ')[0]!))];

/**
 * argv read into a request before anything is opened: `--help` of the whole CLI, of a group or of a command, the
 * version, or the one command it names with the arguments and options that command takes. Everything else is one
 * CliError: an unknown command (with the command probably meant), an option the command does not take, an
 * argument too many.
 */
export function readRequest(argv: string[]): Request {
  const { words, options, values } = commandLine(argv);
  if (words.length === 0) {
    const unknown = options.find((option) => option.name !== 'help' && option.name !== 'version');
    if (unknown) throw new CliError(`unknown option ${unknown.raw}; see kluis --help`);
    if (values.version && !values.help) return { print: version(), exitCode: 0 };
    return { print: usage(), exitCode: values.help ? 0 : 1 };
  }
  const name = [words.slice(0, 2).join(' '), words[0]!].find((candidate) => Object.hasOwn(COMMANDS, candidate));
  if (name === undefined) return unknownCommand(words, values.help === true);
  const command = COMMANDS[name]!;
  if (values.help) return { print: commandUsage(name), exitCode: 0 };
  const accepted = command.options ?? [];
  const refused = options.find((option) => option.name !== 'help' && !accepted.some((name) => name === option.name));
  if (refused) throw new CliError(`${name} does not take ${refused.raw}; see kluis ${name} --help`);
  const args = new Arguments(argv, name, accepted);
  const allowed = name.split(' ').length + (command.arguments?.length ?? 0);
  const extra = args.positionals[allowed];
  if (extra !== undefined) throw new CliError(`unexpected argument "${extra}"; see kluis ${name} --help`);
  return { name, command, args };
}

/** A group alone (`kluis clients`) lists its commands; anything else is refused, with the command probably meant. */
function unknownCommand(words: string[], help: boolean): Request {
  const [group] = words as [string];
  if (words.length === 1 && GROUPS.includes(group)) {
    if (help) return { print: groupUsage(group), exitCode: 0 };
    const commands = NAMES.filter((name) => name.startsWith(`${group} `)).map((name) => name.slice(group.length + 1));
    throw new CliError(`${group} needs a command: ${commands.join(', ')}; see kluis ${group} --help`);
  }
  const typed = words.slice(0, 2).join(' ');
  const meant = closest(typed, words.length === 1 ? [...GROUPS, ...NAMES.filter((n) => !n.includes(' '))] : NAMES);
  throw new CliError(`unknown command "${typed}"; ${meant ? `did you mean "${meant}"?` : 'see kluis --help'}`);
}

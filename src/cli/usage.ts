import { readFileSync } from 'node:fs';
import { PLACEHOLDERS } from './arguments.ts';
import { COMMANDS, type Command } from './commands.ts';

/** Usage is written from each command's own declaration (commands.ts), so it lists what the command accepts. */
const WIDTH = 110;
const ABOUT_COLUMN = 43;

/** `clients rotate-secret ID [--grace SECONDS]`, as pieces that are never split across lines. */
function synopsis(name: string, command: Command): string[] {
  const options = (command.options ?? []).map((option) => {
    const written = PLACEHOLDERS[option] ? `--${option} ${PLACEHOLDERS[option]}` : `--${option}`;
    return command.required?.includes(option) ? written : `[${written}]`;
  });
  return [name, ...(command.arguments ?? []), ...options];
}

/** The pieces after `prefix` on lines of at most WIDTH characters, continuation lines indented by `indent`. */
function wrap(pieces: string[], prefix: string, indent: number): string[] {
  const lines: string[] = [];
  let line = prefix;
  for (const piece of pieces) {
    if (line.length > indent && line.length + 1 + piece.length > WIDTH) {
      lines.push(line);
      line = ' '.repeat(indent) + piece;
    } else line = line === '' || line.endsWith(' ') ? line + piece : `${line} ${piece}`;
  }
  return [...lines, line];
}

/** One command in a listing: its synopsis, and beside it (or under it, when it is long) what it does. */
function listed(name: string, command: Command): string {
  const lines = wrap(synopsis(name, command), '  ', 4);
  const last = lines.at(-1)!;
  const besideLast = last.length + 2 <= ABOUT_COLUMN;
  const about = wrap(
    command.about.split(' '),
    besideLast ? last.padEnd(ABOUT_COLUMN) : ' '.repeat(ABOUT_COLUMN),
    ABOUT_COLUMN,
  );
  return [...(besideLast ? lines.slice(0, -1) : lines), ...about].join('\n');
}

const FOOTER = 'Configuration comes from the same environment variables as the server (docs/configuration.md).';

/** `kluis --help`: every command. */
export function usage(): string {
  return [
    'usage: kluis <command> [arguments] [options]',
    '       kluis <command> --help       the usage of one command',
    '       kluis --version',
    '',
    ...Object.entries(COMMANDS).map(([name, command]) => listed(name, command)),
    '',
    FOOTER,
  ].join('\n');
}

/** `kluis clients --help`: the commands of one group. */
export function groupUsage(group: string): string {
  const commands = Object.entries(COMMANDS).filter(([name]) => name.startsWith(`${group} `));
  return [
    `usage: kluis ${group} <command> [arguments] [options]`,
    '',
    ...commands.map(([name, command]) => listed(name, command)),
  ].join('\n');
}

/** `kluis clients add --help`: one command. */
export function commandUsage(name: string): string {
  const command = COMMANDS[name]!;
  const about = wrap(command.about.split(' '), '', 0);
  return [...wrap(synopsis(name, command), 'usage: kluis', 13), '', ...about, '', FOOTER].join('\n');
}

/** `kluis --version`: the version in package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

import { text } from 'node:stream/consumers';
import { parseArgs } from 'node:util';
import { SIGNING_ALGS } from '../config/protocol-constants.ts';
import { CliError } from './context.ts';

const OPTIONS = {
  metadata: { type: 'string' },
  scope: { type: 'string' },
  format: { type: 'string' },
  alg: { type: 'string' },
  ttl: { type: 'string' },
  title: { type: 'string' },
  description: { type: 'string' },
  email: { type: 'string' },
  name: { type: 'string' },
  totp: { type: 'boolean' },
  grace: { type: 'string' },
  'expires-in': { type: 'string' },
  'single-use': { type: 'boolean' },
  limit: { type: 'string' },
  since: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

/** An option a command may take (`--help` every command takes, `--version` only `kluis` alone). */
export type OptionName = Exclude<keyof typeof OPTIONS, 'help' | 'version'>;

/** How each option's value is written in a usage line; a flag has none. */
export const PLACEHOLDERS: Record<OptionName, string> = {
  metadata: 'JSON',
  scope: '"a b"',
  format: 'jwt|opaque',
  alg: SIGNING_ALGS.join('|'),
  ttl: 'SECONDS',
  title: '"Payments API"',
  description: '"Make payments from your accounts"',
  email: 'ADDRESS',
  name: '"Full Name"',
  totp: '',
  grace: 'SECONDS',
  'expires-in': 'SECONDS',
  'single-use': '',
  limit: 'N',
  since: 'ISO-8601',
};

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/**
 * argv read loosely, before any command is chosen: its words (`clients`, `add`, arguments) and the names of the
 * options it gives, whether or not they exist. Nothing is refused yet.
 */
export function commandLine(argv: string[]): {
  words: string[];
  options: { name: string; raw: string }[];
  values: Partial<Values>;
} {
  const { positionals, tokens, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: OPTIONS,
    strict: false,
    tokens: true,
  });
  const options = tokens.flatMap((token) =>
    token.kind === 'option' ? [{ name: token.name, raw: token.rawName }] : [],
  );
  return { words: positionals, options, values: values as Partial<Values> };
}

/** The command line of one command, read: what it finds in argv and on stdin, each mistake one CliError. */
export class Arguments {
  readonly values: Values;
  readonly positionals: string[];
  readonly #command: string;

  /** `command` is the command's name (`clients add`); argv may give only the options it takes. */
  constructor(argv: string[], command: string, accepted: readonly OptionName[]) {
    this.#command = command;
    const options = Object.fromEntries(accepted.map((name) => [name, OPTIONS[name]]));
    try {
      ({ values: this.values, positionals: this.positionals } = parseArgs({
        args: argv,
        allowPositionals: true,
        options: { ...options, help: OPTIONS.help },
      }) as { values: Values; positionals: string[] });
    } catch (err) {
      throw new CliError(`${(err as Error).message.split('. ')[0]}; see kluis ${command} --help`);
    }
  }

  argument(index: number, what: string): string {
    const value = this.positionals[index];
    if (!value) throw new CliError(`missing ${what}; see kluis ${this.#command} --help`);
    return value;
  }

  /** A whole number from an option, within bounds; anything else is refused in one line. */
  number(
    name: 'grace' | 'expires-in' | 'limit' | 'ttl',
    bounds: { min: number; max: number },
    unit = ' of seconds',
  ): number | undefined {
    const value = this.values[name];
    if (value === undefined) return undefined;
    const number = Number(value);
    if (!/^\d+$/.test(value) || number < bounds.min || number > bounds.max) {
      throw new CliError(`--${name} must be a whole number${unit} between ${bounds.min} and ${bounds.max}`);
    }
    return number;
  }

  /** An option limited to a few values. */
  choice(name: 'format' | 'alg', allowed: readonly string[]): string | undefined {
    const value = this.values[name];
    if (value !== undefined && !allowed.includes(value)) {
      throw new CliError(`--${name} must be ${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`);
    }
    return value;
  }

  /** --since as a date, if given. */
  since(): Date | undefined {
    if (this.values.since === undefined) return undefined;
    const since = new Date(this.values.since);
    if (Number.isNaN(since.getTime())) {
      throw new CliError('--since must be an ISO 8601 date or time, e.g. 2026-11-01T00:00:00Z');
    }
    return since;
  }

  /** Client metadata as one JSON object, from --metadata or stdin. */
  async metadata(): Promise<Record<string, unknown>> {
    const input = this.values.metadata ?? (await stdin('give the client metadata as JSON on stdin or with --metadata'));
    let value: unknown;
    try {
      value = JSON.parse(input);
    } catch (err) {
      throw new CliError(`client metadata is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new CliError('client metadata must be a JSON object');
    return value as Record<string, unknown>;
  }

  /**
   * The password as given on stdin (never argv, which other users can see in ps): one trailing newline is dropped,
   * nothing else is trimmed.
   */
  async password(): Promise<string> {
    const input = await stdin('give the password on stdin, e.g. from a password manager or `read -s`');
    return input.endsWith('\r\n') ? input.slice(0, -2) : input.endsWith('\n') ? input.slice(0, -1) : input;
  }
}

async function stdin(missing: string): Promise<string> {
  if (process.stdin.isTTY) throw new CliError(missing);
  return text(process.stdin);
}

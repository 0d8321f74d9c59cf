import { shownMessage } from '../errors.ts';
import { openContext, type CliContext } from './context.ts';
import { readRequest, type Request } from './dispatch.ts';

/**
 * `kluis <command>`: argv is read into a domain command's input (src/clients/, src/people/, …), the command runs
 * with the server's configuration and database, and its answer is printed as JSON. A refusal is one line on stderr
 * with exit status 1: a mistake in argv or input, or any Kluis error whose message may be shown.
 */
function fail(message: string): never {
  process.stderr.write(`kluis: ${message}\n`);
  process.exit(1);
}

function writeLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

// Usage, the version and every mistake in argv are answered before the database is opened.
let request: Request;
try {
  request = readRequest(process.argv.slice(2));
} catch (err) {
  fail((err as Error).message);
}
if ('print' in request) {
  process.stdout.write(`${request.print}\n`);
  process.exit(request.exitCode);
}
const { command, args } = request;

let ctx: CliContext | undefined;
try {
  ctx = await openContext();
  const result = await command.run(ctx, args, writeLine);
  // Commands that stream JSON lines write them themselves and return nothing.
  if (result !== undefined) writeLine(JSON.stringify(result, null, 2));
} catch (err) {
  const shown = shownMessage(err);
  if (shown === undefined) throw err;
  process.exitCode = 1;
  process.stderr.write(`kluis: ${shown}\n`);
} finally {
  await ctx?.connection.close();
}

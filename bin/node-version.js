// Plain JavaScript, loaded before any TypeScript: a Node.js too old to strip types would otherwise stop at the first
// .ts import with a stack trace instead of saying what is needed.
import { readFileSync } from 'node:fs';

/** The oldest Node.js Kluis runs on: package.json's engines.node (">=22.18.0"). */
function minimumVersion() {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return pkg.engines.node.replace(/^>=\s*/, '');
}

const parts = (version) => version.split('.').map((part) => Number.parseInt(part, 10) || 0);

/**
 * The line to print when Node.js `version` (process.versions.node, e.g. "20.11.1") is older than Kluis needs;
 * undefined when it is new enough.
 */
export function nodeVersionProblem(version, minimum = minimumVersion()) {
  const found = parts(version);
  const needed = parts(minimum);
  for (let i = 0; i < 3; i += 1) {
    if ((found[i] ?? 0) > (needed[i] ?? 0)) return undefined;
    if ((found[i] ?? 0) < (needed[i] ?? 0)) {
      const shown = minimum.replace(/\.0$/, '');
      return `Kluis needs Node.js ${shown} or newer (found ${version})`;
    }
  }
  return undefined;
}

/** Stops this process with that one line, exit status 1, on a Node.js too old for Kluis. */
export function requireSupportedNode() {
  const problem = nodeVersionProblem(process.versions.node);
  if (problem === undefined) return;
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}

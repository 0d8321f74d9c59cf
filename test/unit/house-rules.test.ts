import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The rules of the layout (README, Layout) that no linter checks; the import layering is dependency-cruiser's.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const files = sources(SRC).map((path) => ({ path: relative(ROOT, path), text: readFileSync(path, 'utf8') }));

test('no file in src is longer than 300 lines', () => {
  const long = files.filter((file) => file.text.split('\n').length > 300).map((file) => file.path);
  assert.deepEqual(long, []);
});

// A statement as Kluis writes them: a keyword at the start of a template or string literal, lower or upper case.
const SQL =
  /[`'"]\s*(select\s[\s\S]*?\sfrom\s|insert\s+into\s|update\s+\w+\s+set\s|delete\s+from\s|with\s+\w+\s+as\s*\()/i;

test('SQL is written only under src/db', () => {
  const outside = files.filter((file) => !file.path.startsWith('src/db/') && SQL.test(file.text)).map((f) => f.path);
  assert.deepEqual(outside, []);
});

test('the SQL detector sees the statements under src/db (so the rule above cannot pass by matching nothing)', () => {
  const inDb = files.filter((file) => file.path.startsWith('src/db/') && SQL.test(file.text));
  assert.ok(inDb.length >= 10, `only ${inDb.length} files under src/db look like they hold SQL`);
});

test('no catch-all helpers or utils room', () => {
  const catchAll = files.filter((file) => /\/(helpers|utils?)(\/|\.ts$)/.test(file.path)).map((f) => f.path);
  assert.deepEqual(catchAll, []);
});

// The heap limits and the allocator setting are measured (docs/performance.md): `npm start`, the container and the
// bench run with the same.
test('npm start and the container start Kluis with the same environment and node flags', () => {
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts
    .start;
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
  assert.ok(cmd, 'the Dockerfile has an exec-form CMD');
  const words = start.split(' ');
  const assignments = words.filter((word) => /^[A-Z_]+=/.test(word));
  assert.deepEqual(JSON.parse(cmd), words.slice(assignments.length));
  for (const assignment of assignments) assert.match(dockerfile, new RegExp(`^ENV ${assignment}$`, 'm'));
  assert.ok(assignments.includes('MALLOC_ARENA_MAX=1'), 'one malloc arena');
  assert.ok(assignments.includes('MALLOC_TRIM_THRESHOLD_=67108864'), 'argon2id buffers kept for reuse');
  assert.ok(start.includes('--max-old-space-size='), 'a heap limit is set');
});

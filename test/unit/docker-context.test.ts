import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// What `docker build` is sent: nothing git ignores (installed modules, the embedded database and its secret, test
// and bench output), and everything the Dockerfile copies.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const entries = (file: string) =>
  readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .map((line) => line.trim().replace(/\/$/, ''))
    .filter((line) => line !== '' && !line.startsWith('#'));

test('.dockerignore keeps out everything .gitignore does, and environment files', () => {
  const ignored = entries('.dockerignore');
  for (const entry of [...entries('.gitignore'), '.git', '.env']) assert.ok(ignored.includes(entry), entry);
});

test('.dockerignore keeps in everything the Dockerfile copies', () => {
  const ignored = new Set(entries('.dockerignore'));
  const copied = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) =>
    m[1]!.split(' '),
  );
  assert.ok(copied.includes('src') && copied.includes('package.json'), `COPY sources found: ${copied.join(' ')}`);
  for (const source of copied) assert.ok(!ignored.has(source), `${source} is copied but ignored`);
});

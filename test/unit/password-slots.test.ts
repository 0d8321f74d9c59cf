import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { argon2Slots, OWASP_MINIMUM, PasswordHasher } from '../../src/auth/password.ts';

// argon2 holds ARGON2_MEMORY_KIB per running hash: a burst of sign-ins runs as many at once as there are cores,
// the rest wait, and every one of them still gets its answer.
test('a burst of password checks runs at most one per core at a time, and each is answered', async () => {
  const hasher = new PasswordHasher(OWASP_MINIMUM);
  const hash = await hasher.hash('correct horse');
  let most = 0;
  const watch = setInterval(() => (most = Math.max(most, argon2Slots.activeCount)), 1);
  const burst = Array.from({ length: availableParallelism() + 4 }, (_, i) =>
    hasher.verify(hash, i % 2 ? 'correct horse' : 'wrong'),
  );
  assert.ok(argon2Slots.pendingCount > 0, 'some wait for a slot');
  const verdicts = await Promise.all(burst);
  clearInterval(watch);
  assert.ok(most >= 1 && most <= availableParallelism(), `at most ${availableParallelism()} at once, saw ${most}`);
  assert.deepEqual(
    verdicts,
    burst.map((_, i) => i % 2 === 1),
  );
});

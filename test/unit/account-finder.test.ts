import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AccountRecord } from '../../src/db/account-store.ts';
import { accountFinder } from '../../src/oidc/subjects/claims.ts';

// oidc-provider and Kluis's own active-person check both ask for a token's person during one request.
test('a request reads an account once however often it asks; another request reads it again', async () => {
  const reads: string[] = [];
  const person = { id: 'p-1', username: 'ann', status: 'active', claims: {}, email: null } as unknown as AccountRecord;
  const find = accountFinder({
    findById: async (id) => {
      reads.push(id);
      return id === person.id ? person : undefined;
    },
  });
  const request = {} as KoaContextWithOIDC;
  const [a, b] = [await find(request, 'p-1'), await find(request, 'p-1')];
  assert.equal(a?.accountId, 'p-1');
  assert.equal(b?.accountId, 'p-1');
  assert.equal(await find(request, 'p-2'), undefined);
  assert.deepEqual(reads, ['p-1', 'p-2']);
  await find({} as KoaContextWithOIDC, 'p-1');
  assert.deepEqual(reads, ['p-1', 'p-2', 'p-1']);
});

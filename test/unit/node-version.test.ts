import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeVersionProblem } from '../../bin/node-version.js';

// The check bin/server.js and bin/kluis.js make before any TypeScript is loaded, against package.json's engines.
test('a Node.js older than 22.18 is told in one line what Kluis needs and what it found', () => {
  for (const version of ['20.20.2', '22.17.1', '18.0.0', '22.9.0']) {
    assert.equal(nodeVersionProblem(version), `Kluis needs Node.js 22.18 or newer (found ${version})`);
  }
});

test('22.18 and every newer Node.js pass the check', () => {
  for (const version of ['22.18.0', '22.18.1', '22.20.0', '23.0.0', '24.11.1', '100.0.0']) {
    assert.equal(nodeVersionProblem(version), undefined, version);
  }
});

test("the minimum is package.json's engines.node, shown without a zero patch level", () => {
  assert.equal(nodeVersionProblem('24.1.0', '24.2.1'), 'Kluis needs Node.js 24.2.1 or newer (found 24.1.0)');
  assert.equal(nodeVersionProblem('24.1.0', '25.0.0'), 'Kluis needs Node.js 25.0 or newer (found 24.1.0)');
});

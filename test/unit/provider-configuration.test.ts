import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assembleSlices } from '../../src/oidc/provider/configuration.ts';

// oidc-provider's configuration is assembled from one slice per feature (oidc/provider/configuration/ and the rooms'
// configuration.ts); a slice that silently replaced another's setting would drop a security choice.

test('slices are merged into one configuration, their features into one features object', () => {
  const assembled = assembleSlices([
    { responseTypes: ['code'], features: { userinfo: { enabled: true } } },
    { clockTolerance: 5, features: { revocation: { enabled: true } } },
    { acrValues: ['urn:kluis:acr:sca'] },
  ]);
  assert.deepEqual(assembled, {
    responseTypes: ['code'],
    clockTolerance: 5,
    acrValues: ['urn:kluis:acr:sca'],
    features: { userinfo: { enabled: true }, revocation: { enabled: true } },
  });
});

test('a setting or a feature configured by two slices is refused', () => {
  assert.throws(
    () => assembleSlices([{ clockTolerance: 5 }, { clockTolerance: 60 }]),
    /clockTolerance is configured by two/,
  );
  assert.throws(
    () => assembleSlices([{ features: { dPoP: { enabled: true } } }, { features: { dPoP: { enabled: false } } }]),
    /features\.dPoP is configured by two/,
  );
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { M2M_METADATA, relyingParty } from '../support/clients.ts';
import { withDatabase, type SeededDatabase } from '../support/fixture.ts';
import { spawnKluis, type KluisProcess } from '../support/kluis.ts';

// The server's output is read by log collectors line by line: one stray console line breaks the JSON stream.
let house: SeededDatabase<'client', never>;
let server: KluisProcess;

before(async () => {
  house = await withDatabase({ clients: { client: M2M_METADATA } });
  server = await spawnKluis({ DATABASE_URL: house.database.url });
});
after(async () => {
  if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
  await house?.stop();
});

describe('the server log', () => {
  test('token, introspection and revocation requests leave only JSON lines, and no body-parser warning', async () => {
    const rp = await relyingParty(server.issuer, house.clients.client);
    const { access_token } = await oidc.clientCredentialsGrant(rp, {});
    assert.equal((await oidc.tokenIntrospection(rp, access_token)).active, true);
    await oidc.tokenRevocation(rp, access_token);
    // The access log line of the last request is written once its response is finished.
    const deadline = Date.now() + 5000;
    while (!server.output().includes('"path":"/token/revocation"')) {
      assert.ok(Date.now() < deadline, `no access log line for the revocation:\n${server.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const output = server.output();
    assert.doesNotMatch(output, /already parsed request body/);
    for (const line of output.trimEnd().split('\n')) assert.doesNotThrow(() => JSON.parse(line), line);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { clientDeps, openContext, peopleDeps, type CliContext } from '../../src/cli/context.ts';
import { addClient } from '../../src/clients/add.ts';
import type { ClientDeps } from '../../src/clients/deps.ts';
import { KluisError } from '../../src/errors.ts';
import { addPerson } from '../../src/people/add.ts';
import { listConsentsOf, revokeConsentsOf } from '../../src/people/consents.ts';
import type { PeopleDeps } from '../../src/people/deps.ts';
import { disablePerson } from '../../src/people/disable.ts';
import { erasePerson } from '../../src/people/erasure.ts';
import { exportPersonalData } from '../../src/people/export.ts';
import { listPeople } from '../../src/people/list.ts';
import { resetMfa } from '../../src/people/reset-mfa.ts';
import { unlockPerson } from '../../src/people/unlock.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

// The commands about people called directly, as the CLI, the demo seed and the tests' support call them: typed errors
// with stable codes, no process or HTTP in between.
let t: TestDatabase;
let ctx: CliContext;
let people: PeopleDeps;
let clients: ClientDeps;
let client: AdapterPayload;
before(async () => {
  t = await createTestDatabase();
  ctx = await openContext({ DATABASE_URL: t.url, LOG_LEVEL: 'silent' });
  people = await peopleDeps(ctx);
  clients = await clientDeps(ctx);
  client = await addClient(clients, { redirect_uris: ['https://shop.example/cb'], client_name: 'Shop' });
});
after(async () => {
  await ctx?.connection.close();
  await t?.drop();
});

async function refused(work: Promise<unknown>, code: string, status: number, message?: RegExp) {
  await assert.rejects(work, (err: unknown) => {
    assert.ok(err instanceof KluisError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** A consent the person gave the shop, as the consent screen leaves it (an oidc-provider Grant). */
async function consentTo(accountId: string): Promise<string> {
  const grant = new clients.provider.Grant({ accountId, clientId: String(client.client_id) });
  grant.addOIDCScope('openid profile');
  return grant.save();
}

const password = 'a long enough password';

describe('commands about people', () => {
  test('addPerson gives an activation code, or with totp an otpauth URI; bad input is refused by rule', async () => {
    const added = await addPerson(people, { username: 'ada', password, email: 'ada@example.com', name: 'Ada' });
    assert.match(String(added.activation_code), /^[a-z2-9]{4}(-[a-z2-9]{4}){4}$/);
    assert.equal(added.otpauth_uri, undefined);
    assert.deepEqual((await people.accounts.findByUsername('ada'))?.claims, { name: 'Ada' });
    const enrolled = await addPerson(people, { username: 'bob', password, totp: true });
    assert.match(String(enrolled.otpauth_uri), /^otpauth:\/\/totp\//);
    assert.equal(enrolled.activation_code, undefined);

    await refused(addPerson(people, { username: 'bad name', password }), 'ERR_INVALID_PERSON', 400, /USERNAME/);
    await refused(addPerson(people, { username: 'cy', password: 'short' }), 'ERR_INVALID_PERSON', 400, /at least 8/);
    await refused(addPerson(people, { username: 'cy', password, email: 'nope' }), 'ERR_INVALID_PERSON', 400, /email/);
    await refused(
      addPerson(people, { username: 'ada', password }),
      'ERR_USER_EXISTS',
      409,
      /a user ada already exists/,
    );
    await refused(
      addPerson(people, { username: 'ada2', password, email: 'ada@example.com' }),
      'ERR_USER_EXISTS',
      409,
      /username or email/,
    );
  });

  test('listPeople shows status, lockout and second-factor state', async () => {
    await addPerson(people, { username: 'dee', password });
    await addPerson(people, { username: 'eve', password, totp: true });
    await t.db.query(`update accounts set locked_until = now() + interval '1 hour' where username = 'eve'`);
    const listed = await listPeople(people);
    assert.equal(listed.find((person) => person.username === 'dee')?.mfa, 'awaiting activation');
    const eve = listed.find((person) => person.username === 'eve');
    assert.equal(eve?.status, 'locked');
    assert.equal(eve?.mfa, 'totp');
    assert.ok(!JSON.stringify(listed).includes('$argon2'), 'no credential');
  });

  test('unlockPerson lifts a lockout; an unknown person is not found', async () => {
    await addPerson(people, { username: 'fay', password, totp: true });
    await t.db.query(`update accounts set locked_until = now() + interval '1 hour' where username = 'fay'`);
    assert.deepEqual(await unlockPerson(people, 'fay'), { username: 'fay', status: 'active' });
    assert.equal((await listPeople(people)).find((person) => person.username === 'fay')?.status, 'active');
    await refused(unlockPerson(people, 'nobody'), 'ERR_USER_NOT_FOUND', 404, /^no user nobody$/);
  });

  test('listConsentsOf and revokeConsentsOf: per client, as the operator; no consent, no revocation', async () => {
    const { id } = await addPerson(people, { username: 'gus', password, totp: true });
    const grantId = await consentTo(id);
    const listed = await listConsentsOf(people, 'gus');
    assert.deepEqual(
      listed.map((consent) => [consent.grant_id, consent.client_name]),
      [[grantId, 'Shop']],
    );
    await refused(
      revokeConsentsOf(people, 'gus', 'other-client'),
      'ERR_CONSENT_NOT_FOUND',
      404,
      /no consent for client/,
    );
    const revoked = await revokeConsentsOf(people, 'gus', String(client.client_id));
    assert.deepEqual(revoked, { revoked: [{ grant_id: grantId, client_id: client.client_id }] });
    assert.deepEqual(await listConsentsOf(people, 'gus'), []);
    const { rows } = await t.db.query(`select channel from consent_ledger where account_id = $1`, [id]);
    assert.deepEqual(rows, [{ channel: 'operator' }]);
  });

  test('disablePerson refuses sign-in from now on and ends every consent', async () => {
    const { id } = await addPerson(people, { username: 'hal', password, totp: true });
    await consentTo(id);
    assert.deepEqual(await disablePerson(people, 'hal'), { username: 'hal', status: 'disabled', consents_revoked: 1 });
    assert.equal((await people.accounts.findByUsername('hal'))?.status, 'disabled');
    await refused(disablePerson(people, 'nobody'), 'ERR_USER_NOT_FOUND', 404);
  });

  test('resetMfa removes the authenticator, issues an activation code and ends every consent', async () => {
    const { id } = await addPerson(people, { username: 'ivy', password, totp: true });
    await consentTo(id);
    const reset = await resetMfa(people, 'ivy');
    assert.match(reset.activation_code, /^[a-z2-9]{4}(-[a-z2-9]{4}){4}$/);
    assert.equal(reset.consents_revoked, 1);
    assert.equal((await people.accounts.findByUsername('ivy'))?.totpSecretEncrypted, null);
    assert.equal((await listPeople(people)).find((person) => person.username === 'ivy')?.mfa, 'awaiting activation');
  });

  test('exportPersonalData describes the profile, credentials and consents without exporting a secret', async () => {
    const { id } = await addPerson(people, { username: 'jo', password, email: 'jo@example.com', totp: true });
    await consentTo(id);
    const account = (await people.accounts.findByUsername('jo'))!;
    const data = await exportPersonalData(people.accounts, people.consents, account);
    assert.equal(data.profile.username, 'jo');
    assert.equal(data.authentication.totp, 'enrolled');
    assert.deepEqual(
      data.consents.map((consent) => consent.client_name),
      ['Shop'],
    );
    assert.ok(!JSON.stringify(data).includes(String(account.totpSecretEncrypted)));
  });

  test('erasePerson erases the person; the username is held back from the operator, not from Kluis', async () => {
    const { id } = await addPerson(people, { username: 'kim', password, totp: true });
    await consentTo(id);
    assert.deepEqual(await erasePerson(people, 'kim'), { deleted: 'kim' });
    assert.equal(await people.accounts.findByUsername('kim'), undefined);
    await refused(
      addPerson(people, { username: 'kim', password }),
      'ERR_USERNAME_RETIRED',
      409,
      /available again after/,
    );
    await refused(addPerson(people, { username: 'KIM', password }), 'ERR_USERNAME_RETIRED', 409);
    const again = await addPerson(people, { username: 'kim', password }, { actor: 'system', details: { demo: true } });
    assert.notEqual(again.id, id);
    await refused(erasePerson(people, 'nobody'), 'ERR_USER_NOT_FOUND', 404);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KoaContextWithOIDC } from 'oidc-provider';
import {
  ACCOUNT_INFORMATION,
  grantLifetime,
  isPayment,
  PAYMENT_INITIATION,
  requestedDetails,
  richAuthorizationRequests,
  type AuthorizationDetail,
} from '../../src/oidc/fapi/authorization-details.ts';

// RFC 9396 rich authorization requests for open banking, checked without a provider: the schema of each detail
// type and what a token may carry of what the person authorised.
const rar = richAuthorizationRequests();
const DAY = 86_400_000;
/** A token the hooks under test are handed but do not read. */
const unread = undefined as never;
const inDays = (days: number) => new Date(Date.now() + days * DAY).toISOString().slice(0, 10);

const payment = (changes: Record<string, unknown> = {}) => ({
  type: PAYMENT_INITIATION,
  instructedAmount: { currency: 'EUR', amount: '50.00' },
  creditorName: 'Merchant B.V.',
  creditorAccount: { iban: 'NL91ABNA0417164300' },
  ...changes,
});
const accountAccess = (changes: Record<string, unknown> = {}) => ({
  type: ACCOUNT_INFORMATION,
  accounts: [{ iban: 'DE89370400440532013000' }],
  access: ['balances', 'transactions'],
  expiresAt: inDays(90),
  ...changes,
});

/** The part of oidc-provider's context these hooks read: the request's parameters, the grant. */
const context = (details: unknown[] | undefined, grant?: { rar: unknown[] }) =>
  ({
    oidc: {
      params: details === undefined ? {} : { authorization_details: JSON.stringify(details) },
      ...(grant ? { grant } : {}),
    },
  }) as unknown as KoaContextWithOIDC;

/** Validates `detail` as its type's validator does inside an authorization request that carries `request`. */
function validate(detail: Record<string, unknown>, request: unknown[] = [detail]) {
  const type = detail.type as typeof PAYMENT_INITIATION | typeof ACCOUNT_INFORMATION;
  rar.types[type]!.validate(context(request), detail as never, unread);
}

/** An InvalidAuthorizationDetails error whose description matches `pattern`. */
const refused = (pattern: RegExp) => (err: unknown) => {
  const { error, error_description: description } = err as { error?: string; error_description?: string };
  return error === 'invalid_authorization_details' && pattern.test(description ?? '');
};

describe('a payment initiation detail', () => {
  test('with an amount, a payee name and a valid IBAN is accepted', () => {
    validate(payment());
    validate(payment({ remittanceInformationUnstructured: 'Invoice 2026-114' }));
  });

  test('without an IBAN, or with an IBAN whose check digits are wrong, is refused', () => {
    const noIban = payment({ creditorAccount: {} });
    assert.throws(() => validate(noIban), refused(/^payment_initiation: creditorAccount\.iban /));
    const badCheckDigits = payment({ creditorAccount: { iban: 'NL92ABNA0417164300' } });
    assert.throws(() => validate(badCheckDigits), refused(/creditorAccount\.iban is not a valid IBAN/));
    const withSpaces = payment({ creditorAccount: { iban: 'NL91 ABNA 0417 1643 00' } });
    assert.throws(() => validate(withSpaces), refused(/not a valid IBAN \(written without spaces\)/));
  });

  test('with a field the consent screen does not show is refused', () => {
    const debtor = payment({ debtorAccount: { iban: 'NL91ABNA0417164300' } });
    assert.throws(() => validate(debtor), refused(/payment_initiation/));
    const extraAmountField = payment({ instructedAmount: { currency: 'EUR', amount: '5.00', fee: '1.00' } });
    assert.throws(() => validate(extraAmountField), refused(/instructedAmount/));
  });

  test('with an amount that is not a positive decimal string is refused', () => {
    for (const amount of ['0', '0.00', '-5.00', '5,00', '05.00', '1e3', '5.001', '1234567890123']) {
      const detail = payment({ instructedAmount: { currency: 'EUR', amount } });
      assert.throws(() => validate(detail), refused(/instructedAmount\.amount/), amount);
    }
    assert.throws(
      () => validate(payment({ instructedAmount: { currency: 'EUR', amount: 50 } })),
      refused(/instructedAmount\.amount/),
      'a number, not a string',
    );
  });

  test('with more decimals than its currency has is refused (the screen would show a rounded amount)', () => {
    validate(payment({ instructedAmount: { currency: 'JPY', amount: '5000' } }));
    const yenWithCents = payment({ instructedAmount: { currency: 'JPY', amount: '5000.50' } });
    assert.throws(() => validate(yenWithCents), refused(/instructedAmount\.amount has more decimals than the/));
  });

  test('in a currency that is not an ISO 4217 code is refused', () => {
    const detail = payment({ instructedAmount: { currency: 'EURO', amount: '5.00' } });
    assert.throws(() => validate(detail), refused(/instructedAmount\.currency must be an ISO 4217 currency code/));
  });

  test('with a payee name or remittance text that is empty, too long or holds control characters is refused', () => {
    assert.throws(() => validate(payment({ creditorName: '' })), refused(/creditorName/));
    validate(payment({ creditorName: 'n'.repeat(70) }));
    assert.throws(() => validate(payment({ creditorName: 'n'.repeat(71) })), refused(/creditorName/));
    const reordered = payment({ creditorName: 'Merchant \u202eB.V.' });
    assert.throws(() => validate(reordered), refused(/creditorName must not contain control or formatting characters/));
    validate(payment({ remittanceInformationUnstructured: 'r'.repeat(140) }));
    const longRemittance = payment({ remittanceInformationUnstructured: 'r'.repeat(141) });
    assert.throws(() => validate(longRemittance), refused(/remittanceInformationUnstructured/));
  });

  test('is refused when the request asks for a second payment at the same time (RTS Art 5)', () => {
    const other = payment({ instructedAmount: { currency: 'EUR', amount: '10.00' } });
    assert.throws(() => validate(payment(), [payment(), other]), refused(/only one payment_initiation/));
    validate(payment(), [payment(), accountAccess()]);
  });
});

describe('an account information detail', () => {
  test('with accounts, what to read and an end date within 180 days is accepted', () => {
    validate(accountAccess());
    validate(accountAccess({ access: ['balances'], expiresAt: inDays(179) }));
  });

  test('with an end date in the past, or more than 180 days away (RTS Art 10a), is refused', () => {
    const ended = accountAccess({ expiresAt: inDays(-1) });
    assert.throws(() => validate(ended), refused(/expiresAt must be a future date at most 180 days away/));
    assert.throws(() => validate(accountAccess({ expiresAt: inDays(182) })), refused(/expiresAt/));
    assert.throws(() => validate(accountAccess({ expiresAt: `${inDays(30)}T00:00:00Z` })), refused(/YYYY-MM-DD/));
  });

  test('without an account, with more than 20, or with a repeated or unknown kind of access is refused', () => {
    assert.throws(() => validate(accountAccess({ accounts: [] })), refused(/accounts/));
    const many = Array.from({ length: 21 }, () => ({ iban: 'DE89370400440532013000' }));
    assert.throws(() => validate(accountAccess({ accounts: many })), refused(/accounts/));
    const twice = accountAccess({ access: ['balances', 'balances'] });
    assert.throws(() => validate(twice), refused(/access must not repeat a value/));
    assert.throws(() => validate(accountAccess({ access: ['payments'] })), refused(/access/));
  });
});

describe('what grants and tokens carry', () => {
  test('a request is a payment when any of its details is a payment initiation', () => {
    assert.equal(isPayment([accountAccess(), payment()]), true);
    assert.equal(isPayment([accountAccess()]), false);
    assert.equal(isPayment(undefined), false);
  });

  test('the requested details are read from the request parameter; none when it is absent', () => {
    assert.deepEqual(requestedDetails({ authorization_details: JSON.stringify([payment()]) }), [payment()]);
    assert.deepEqual(requestedDetails({}), []);
  });

  test('a payment grant lives as long as its access token; account access until the end of the agreed day', () => {
    assert.equal(grantLifetime([payment()] as AuthorizationDetail[], 300), 300);
    assert.equal(grantLifetime([], 300), undefined);
    const until = inDays(10);
    const expected = (Date.parse(`${until}T23:59:59Z`) - Date.now()) / 1000;
    const lifetime = grantLifetime([accountAccess({ expiresAt: until })] as AuthorizationDetail[], 300)!;
    assert.ok(Math.abs(lifetime - expected) < 5, `${lifetime} s, about ${expected} s`);
    const both = [accountAccess(), accountAccess({ expiresAt: until })] as AuthorizationDetail[];
    const soonest = grantLifetime(both, 300)!;
    assert.ok(Math.abs(soonest - expected) < 5, 'the soonest end date of several');
  });

  test('a code carries only the requested details the grant holds', () => {
    const authorised = payment();
    const details = rar.authorizationDetailsForGrantSource!(
      context([authorised, accountAccess()], { rar: [authorised] }),
      unread,
    );
    assert.deepEqual(details, [authorised]);
  });

  test('an access token carries what was authorised, or a part of it named unchanged', async () => {
    const source = { rar: [payment(), accountAccess()] };
    const forToken = (request: unknown[] | undefined) =>
      rar.authorizationDetailsForAccessToken!(context(request), unread, source as never, 'authorization_code');
    assert.deepEqual(await forToken(undefined), source.rar);
    assert.deepEqual(await forToken([accountAccess()]), [accountAccess()]);
  });

  test('an access token request that changes the amount or payee is refused: that needs a new authorization', () => {
    const source = { rar: [payment()] };
    const changed = payment({ instructedAmount: { currency: 'EUR', amount: '500.00' } });
    assert.throws(
      () => rar.authorizationDetailsForAccessToken!(context([changed]), unread, source as never, 'refresh_token'),
      refused(/differ from what was authorised \(refresh_token\)/),
    );
  });

  test('details without a person’s authorization (client credentials) are refused', () => {
    assert.throws(
      () => rar.authorizationDetailsForAccessToken!(context([payment()]), unread, undefined, 'client_credentials'),
      refused(/need a person’s authorization/),
    );
  });
});

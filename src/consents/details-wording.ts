import { friendlyFormatIBAN } from 'ibantools';
import type { Translator } from '../i18n/translator.ts';
import { PAYMENT_INITIATION, storedDetail, type AuthorizationDetail } from '../oidc/fapi/authorization-details.ts';

/**
 * The detail in plain words in the reader's language, for the consent screen, the account area and (in English) the
 * audit record: "Pay € 50,00 to Acme BV, NL91 …" (PSD2 RTS Art 5(1)(a): the payer sees amount and payee).
 */
export function describe(detail: AuthorizationDetail, i18n: Translator): { summary: string; lines: string[] } {
  if (detail.type === PAYMENT_INITIATION) {
    const { amount, currency } = detail.instructedAmount;
    const iban = friendlyFormatIBAN(detail.creditorAccount.iban) ?? detail.creditorAccount.iban;
    const reference = detail.remittanceInformationUnstructured;
    return {
      summary: i18n.t('details.pay', { amount: i18n.money(amount, currency), creditor: detail.creditorName, iban }),
      lines: reference ? [i18n.t('details.reference', { reference })] : [],
    };
  }
  return {
    summary: i18n.t('details.access', {
      access: i18n.list(detail.access.map((kind) => i18n.t(`details.${kind}`))),
      count: detail.accounts.length,
      accounts: i18n.list(detail.accounts.map((a) => friendlyFormatIBAN(a.iban) ?? a.iban)),
    }),
    lines: [i18n.t('details.accessUntil', { date: i18n.day(detail.expiresAt) })],
  };
}

/** Details as stored with a grant or in the ledger; one of a form Kluis cannot show is named as such. */
export function describeStored(details: readonly unknown[], i18n: Translator) {
  return details.map((stored) => {
    const detail = storedDetail(stored);
    return detail ? describe(detail, i18n) : { summary: i18n.t('details.unreadable'), lines: [] };
  });
}

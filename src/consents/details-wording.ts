import { friendlyFormatIBAN } from 'ibantools';
import type { Translator } from '../i18n/translator.ts';
import { PAYMENT_INITIATION, type AuthorizationDetail } from '../oidc/fapi/authorization-details.ts';

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
  const access = detail.access.map((kind) => i18n.t(`details.${kind}`));
  return {
    summary: i18n.t('details.access', {
      access: access.length === 2 ? i18n.t('details.and', { first: access[0], second: access[1] }) : access[0],
      count: detail.accounts.length,
      accounts: detail.accounts.map((a) => friendlyFormatIBAN(a.iban)).join(', '),
    }),
    lines: [i18n.t('details.accessUntil', { date: i18n.day(detail.expiresAt) })],
  };
}

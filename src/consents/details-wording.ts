import { friendlyFormatIBAN } from 'ibantools';
import { PAYMENT_INITIATION, type AuthorizationDetail } from '../oidc/fapi/authorization-details.ts';

/** The detail in plain words, for the consent screen and the account area ("Pay €50.00 to Acme BV, NL91 …"). */
export function describe(detail: AuthorizationDetail): { summary: string; lines: string[] } {
  if (detail.type === PAYMENT_INITIATION) {
    const amount = new Intl.NumberFormat('en-GB', {
      style: 'currency',
      currency: detail.instructedAmount.currency,
    }).format(Number(detail.instructedAmount.amount));
    return {
      summary: `Pay ${amount} to ${detail.creditorName}, ${friendlyFormatIBAN(detail.creditorAccount.iban)}`,
      lines: detail.remittanceInformationUnstructured ? [`Reference: ${detail.remittanceInformationUnstructured}`] : [],
    };
  }
  const access = detail.access.join(' and ');
  return {
    summary: `See the ${access} of ${detail.accounts.length === 1 ? 'account' : 'accounts'} ${detail.accounts.map((a) => friendlyFormatIBAN(a.iban)).join(', ')}`,
    lines: [`Until ${detail.expiresAt}`],
  };
}

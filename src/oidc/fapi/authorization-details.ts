import { isDeepStrictEqual } from 'node:util';
import { isValidIBAN } from 'ibantools';
import { errors, type KoaContextWithOIDC, type RichAuthorizationRequestsActiveConfiguration } from 'oidc-provider';
import { z } from 'zod';

/**
 * Rich authorization requests (RFC 9396) for open banking: a payment to initiate, or access to accounts' information.
 * Every field is checked against a closed schema (unknown fields are refused: nothing is authorised that the consent
 * screen did not show), IBANs by their check digits and national lengths, amounts as decimal strings.
 */
export const PAYMENT_INITIATION = 'payment_initiation';
export const ACCOUNT_INFORMATION = 'account_information';

/** PSD2 RTS Art 10a: account information access lasts at most 180 days before the person authenticates again. */
const MAX_ACCOUNT_ACCESS_DAYS = 180;
const DAY = 86_400_000;
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));
// SEPA's limits: 70 characters for a name, 140 for unstructured remittance information.
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((value) => !/[\p{Cc}\p{Cf}]/u.test(value), 'must not contain control or formatting characters');
const decimals = (amount: string) => amount.split('.')[1]?.length ?? 0;
const minorUnits = (currency: string) =>
  CURRENCIES.has(currency)
    ? (new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2)
    : 2;
/** Account access agreed "until" a date lasts to the end of that day, UTC. */
const accessEnds = (expiresAt: string) => Date.parse(`${expiresAt}T23:59:59Z`);
const iban = z.string().refine((value) => isValidIBAN(value), 'is not a valid IBAN (written without spaces)');

const PaymentInitiation = z
  .object({
    type: z.literal(PAYMENT_INITIATION),
    instructedAmount: z
      .object({
        currency: z.string().refine((value) => CURRENCIES.has(value), 'must be an ISO 4217 currency code such as EUR'),
        amount: z
          .string()
          .regex(/^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$/, 'must be a decimal string such as "50.00"')
          .refine((value) => Number(value) > 0, 'must be more than zero'),
      })
      .strict()
      // More decimals than the currency has (JPY has none) would be rounded on the consent screen: the person
      // would authorise another amount than the one shown.
      .refine(({ currency, amount }) => decimals(amount) <= minorUnits(currency), {
        message: 'has more decimals than the currency allows',
        path: ['amount'],
      }),
    creditorName: text(70),
    creditorAccount: z.object({ iban }).strict(),
    remittanceInformationUnstructured: text(140).optional(),
  })
  .strict();

/** An account information detail as granted; its end date is judged against the clock only when it is requested. */
const AccountInformationShape = z
  .object({
    type: z.literal(ACCOUNT_INFORMATION),
    accounts: z.array(z.object({ iban }).strict()).min(1).max(20),
    access: z
      .array(z.enum(['balances', 'transactions']))
      .min(1)
      .refine((values) => new Set(values).size === values.length, 'must not repeat a value'),
    expiresAt: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD'),
  })
  .strict();

const AccountInformation = AccountInformationShape.refine(
  ({ expiresAt }) => {
    const at = accessEnds(expiresAt);
    return at > Date.now() && at <= Date.now() + MAX_ACCOUNT_ACCESS_DAYS * DAY;
  },
  { message: `must be a future date at most ${MAX_ACCOUNT_ACCESS_DAYS} days away`, path: ['expiresAt'] },
);

type PaymentDetail = z.infer<typeof PaymentInitiation>;
export type AccountDetail = z.infer<typeof AccountInformationShape>;
export type AuthorizationDetail = PaymentDetail | AccountDetail;

const SCHEMAS = { [PAYMENT_INITIATION]: PaymentInitiation, [ACCOUNT_INFORMATION]: AccountInformation } as const;
const STORED = z.discriminatedUnion('type', [PaymentInitiation, AccountInformationShape]);

/**
 * A detail read back from a grant or the consent ledger, if it still has the form Kluis can show. The ledger is
 * append-only: a row written under another form of a detail must make its page say less, not fail.
 */
export function storedDetail(detail: unknown): AuthorizationDetail | undefined {
  const result = STORED.safeParse(detail);
  return result.success ? result.data : undefined;
}

function requested(ctx: KoaContextWithOIDC): AuthorizationDetail[] {
  return requestedDetails(ctx.oidc.params ?? {});
}

function validator(type: keyof typeof SCHEMAS) {
  return {
    // The first failing field is named, so the client's developer can fix the request without guessing.
    validate(ctx: KoaContextWithOIDC, detail: unknown) {
      const result = SCHEMAS[type].safeParse(detail);
      if (!result.success) {
        const [issue] = result.error.issues;
        const where = issue?.path.length ? issue.path.join('.') : 'the detail';
        throw new errors.InvalidAuthorizationDetails(`${type}: ${where} ${issue?.message ?? 'is invalid'}`);
      }
      // One payment per authorization: each payment is shown, authenticated and authorised on its own (RTS Art 5).
      if (type === PAYMENT_INITIATION && requested(ctx).filter((d) => d.type === PAYMENT_INITIATION).length > 1) {
        throw new errors.InvalidAuthorizationDetails('only one payment_initiation may be authorised at a time');
      }
    },
  };
}

export function isPayment(details: readonly unknown[] | undefined): boolean {
  return !!details?.some((detail) => (detail as { type?: unknown }).type === PAYMENT_INITIATION);
}

/** The requested details, if any, as the authorization request carries them (oidc-provider checked the JSON array). */
export function requestedDetails(params: Record<string, unknown>): AuthorizationDetail[] {
  const raw = params.authorization_details;
  return typeof raw === 'string' ? (JSON.parse(raw) as AuthorizationDetail[]) : [];
}

/**
 * Seconds a grant (or refresh token) with these details lives: a payment's as long as the longest access token it can
 * yield, account access's until the agreed date; undefined for other grants.
 */
export function grantLifetime(details: readonly AuthorizationDetail[], accessTokenTtl: number): number | undefined {
  if (isPayment(details)) return accessTokenTtl;
  const expiries = details
    .filter((d): d is AccountDetail => d.type === ACCOUNT_INFORMATION)
    .map((d) => accessEnds(d.expiresAt));
  return expiries.length ? Math.max(60, Math.floor((Math.min(...expiries) - Date.now()) / 1000)) : undefined;
}

/**
 * What oidc-provider does with the details:
 * - a code carries the requested details the person authorised (all of them: the consent screen has no partial
 *   choice for open banking);
 * - an access token carries exactly the code's (or refresh token's) details; a token request may narrow them by
 *   naming some of them unchanged, never widen or alter them (a changed amount or payee is refused: it needs a new
 *   authorization with SCA);
 * - client credentials never carry them (there is no person to authorise a payment);
 * - introspection shows the token's details to the resource server.
 */
export function richAuthorizationRequests(): RichAuthorizationRequestsActiveConfiguration &
  Required<Pick<RichAuthorizationRequestsActiveConfiguration, 'authorizationDetailsForIntrospection'>> {
  return {
    enabled: true,
    types: {
      [PAYMENT_INITIATION]: validator(PAYMENT_INITIATION),
      [ACCOUNT_INFORMATION]: validator(ACCOUNT_INFORMATION),
    },
    authorizationDetailsForGrantSource(ctx) {
      const granted = (ctx.oidc.grant?.rar ?? []) as unknown[];
      return requested(ctx).filter((detail) => granted.some((g) => isDeepStrictEqual(g, detail))) as never;
    },
    authorizationDetailsForAccessToken(ctx, _token, source, grantType) {
      if (!source)
        throw new errors.InvalidAuthorizationDetails(
          'authorization_details need a person’s authorization (authorization code flow)',
        );
      const authorised = ((source as { rar?: unknown[] }).rar ?? []) as unknown[];
      if (ctx.oidc.params?.authorization_details === undefined) return authorised as never;
      const asked = requested(ctx);
      for (const detail of asked) {
        if (!authorised.some((a) => isDeepStrictEqual(a, detail))) {
          throw new errors.InvalidAuthorizationDetails(
            `authorization_details differ from what was authorised (${grantType}); a changed payment needs a new authorization`,
          );
        }
      }
      return asked as never;
    },
    authorizationDetailsForIntrospection: (_ctx, token) => (token as { rar?: never }).rar,
  };
}

import { generateSecret, generateURI, verify } from 'otplib';

/** The purpose TOTP secrets are sealed under (SecretBox), in `accounts` and in an enrolment's interaction state. */
export const TOTP_PURPOSE = 'totp secret';

/** RFC 6238 with the usual authenticator-app settings: SHA-1, 6 digits, 30-second steps. */
const PERIOD = 30;

export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/**
 * The otpauth URI of a person's entry in their authenticator app: issued by, and labelled with, the operator's
 * product name (BRAND_NAME, `config.brand.name`), then the username. The one rule for the QR code the pages show
 * (web/totp-entry.ts) and the URI `kluis users add --totp` prints (people/add.ts).
 */
export function totpUri(secret: string, brandName: string, username: string): string {
  return generateURI({ issuer: brandName, label: username, secret, period: PERIOD, digits: 6, algorithm: 'sha1' });
}

/**
 * Checks a code, allowing one step of clock drift either way (RFC 6238 5.2) and never a step at or before
 * `lastStep`, so an accepted code cannot be replayed within its window. Returns the matched step, or null.
 */
export async function checkTotp(
  secret: string,
  code: string,
  lastStep: number | null,
  now = Date.now(),
): Promise<number | null> {
  if (!/^\d{6}$/.test(code)) return null;
  const result = await verify({
    secret,
    token: code,
    period: PERIOD,
    epoch: Math.floor(now / 1000),
    epochTolerance: PERIOD,
    ...(lastStep !== null ? { afterTimeStep: lastStep } : {}),
  });
  return result.valid && 'timeStep' in result ? result.timeStep : null;
}

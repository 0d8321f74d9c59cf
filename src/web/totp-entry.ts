import QRCode from 'qrcode';
import { totpUri } from '../auth/totp.ts';

/**
 * What a page shows to set up an authenticator app: the QR code of the otpauth URI, labelled with the operator's
 * product name (the name the code page asks for), and the secret in groups of four so it can be typed by hand.
 */
export async function authenticatorEntry(secret: string, brandName: string, username: string) {
  const qr = await QRCode.toDataURL(totpUri(secret, brandName, username), { margin: 1, width: 220 });
  return { qr, secretGroups: secret.match(/.{1,4}/g)!.join(' ') };
}

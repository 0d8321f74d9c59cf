import { existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { z } from 'zod';
import { LANGUAGES } from '../i18n/catalogues.ts';
import { ConfigError } from './config-error.ts';

const LANGUAGE_RULE = `DEFAULT_LANGUAGE must be one of ${LANGUAGES.join(', ')}`;
const COLOUR_RULE = 'BRAND_COLOR must be a hex colour such as #1f4e79';
const LOGO_TYPES: Record<string, string> = { '.svg': 'image/svg+xml', '.png': 'image/png', '.webp': 'image/webp' };

const httpsUrl = (name: string) =>
  z
    .string()
    .refine((value) => /^https?:\/\/[^\s]+$/.test(value) && URL.canParse(value), `${name} must be an http(s) URL`)
    .optional();

/** The brand's variables, as the schema lists them (config/schema.ts). */
export const brandVariables = {
  BRAND_NAME: z
    .string()
    .trim()
    .min(1, 'BRAND_NAME must not be empty')
    .max(60, 'BRAND_NAME is at most 60 characters')
    .default('Kluis'),
  BRAND_LOGO: z.string().min(1).optional(),
  BRAND_COLOR: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, COLOUR_RULE)
    .default('#1f4e79'),
  SUPPORT_EMAIL: z.email('SUPPORT_EMAIL must be an email address').optional(),
  SUPPORT_URL: httpsUrl('SUPPORT_URL'),
  HELP_URL: httpsUrl('HELP_URL'),
  PRIVACY_URL: httpsUrl('PRIVACY_URL'),
  TERMS_URL: httpsUrl('TERMS_URL'),
  THEME_DIR: z.string().min(1).optional(),
  DEFAULT_LANGUAGE: z.enum(LANGUAGES, { error: LANGUAGE_RULE }).default('en'),
  TIME_ZONE: z
    .string()
    .refine(isTimeZone, 'TIME_ZONE must be an IANA time zone such as Europe/Brussels or UTC')
    .default('UTC'),
};

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/** WCAG 2.2 relative luminance and contrast ratio (1.4.3 Contrast, Minimum). */
function luminance(hex: string): number {
  const channel = (offset: number) => {
    const value = Number.parseInt(hex.slice(offset, offset + 2), 16) / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

export function contrastWithWhite(hex: string): number {
  return 1.05 / (luminance(hex) + 0.05);
}

type BrandInput = z.output<z.ZodObject<typeof brandVariables>>;

/**
 * The operator's brand as the pages read it. A colour too light for the white text of the primary button, a logo
 * that is not an SVG, PNG or WebP file, or a theme folder that does not exist stop Kluis at boot.
 */
export function brandFrom(e: BrandInput) {
  const contrast = contrastWithWhite(e.BRAND_COLOR);
  if (contrast < 4.5) {
    throw new ConfigError(
      `BRAND_COLOR ${e.BRAND_COLOR} is too light for the white text of buttons (contrast ${contrast.toFixed(1)}:1; ` +
        'WCAG 2.2 AA needs 4.5:1): choose a darker shade',
    );
  }
  let logo: { path: string; type: string } | undefined;
  if (e.BRAND_LOGO !== undefined) {
    const type = LOGO_TYPES[extname(e.BRAND_LOGO).toLowerCase()];
    if (!type) throw new ConfigError('BRAND_LOGO must be an .svg, .png or .webp file');
    if (!existsSync(e.BRAND_LOGO) || !statSync(e.BRAND_LOGO).isFile()) {
      throw new ConfigError(`BRAND_LOGO ${e.BRAND_LOGO} is not a readable file`);
    }
    logo = { path: e.BRAND_LOGO, type };
  }
  if (e.THEME_DIR !== undefined && !(existsSync(e.THEME_DIR) && statSync(e.THEME_DIR).isDirectory())) {
    throw new ConfigError(`THEME_DIR ${e.THEME_DIR} is not a directory`);
  }
  return {
    /** The product name people see on every page, in mails and as the authenticator app's label. */
    name: e.BRAND_NAME,
    /** undefined: the pages show the name alone. */
    logo,
    /** The primary colour: filled buttons, links, the current page in the account menu. */
    color: e.BRAND_COLOR,
    support: { email: e.SUPPORT_EMAIL, url: e.SUPPORT_URL },
    links: { help: e.HELP_URL, privacy: e.PRIVACY_URL, terms: e.TERMS_URL },
    /** Templates (`views/`), a stylesheet (`styles.css`) and messages (`locales/`) laid over Kluis's own. */
    themeDir: e.THEME_DIR,
    defaultLanguage: e.DEFAULT_LANGUAGE,
    /** Dates and times are shown in the person's `zoneinfo` when known, else in this zone. */
    timeZone: e.TIME_ZONE,
  };
}

export type Brand = ReturnType<typeof brandFrom>;

import Bowser from 'bowser';

/** A coarse, human description of a browser ("Firefox on Windows") for the person's security activity page. */
export function describeDevice(userAgent: string | undefined): string {
  if (!userAgent) return 'Unknown device';
  const { browser, os } = Bowser.parse(userAgent.slice(0, 512));
  if (!browser.name && !os.name) return 'Unknown device';
  return [browser.name ?? 'Unknown browser', os.name ? `on ${os.name}` : ''].filter(Boolean).join(' ');
}

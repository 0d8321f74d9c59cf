import { createHash, randomBytes } from 'node:crypto';
import { generate } from 'otplib';
import { Browser } from './support/browser.ts';

export interface LoginTarget {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  usernames: string[];
  password: string;
  totpSecret: string;
}

/**
 * The full SCA login as a relying party and a person drive it, as fast as `concurrency` people can: authorization
 * request → login page → password → TOTP → consent (first time) → code → token exchange. A load generator for
 * single requests cannot follow this multi-step, cookie-carrying flow, so this driver does; each account signs in
 * once per round (a TOTP code is accepted once per account).
 */
export async function scaLogins(target: LoginTarget, concurrency: number, seconds: number) {
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const deadline = performance.now() + seconds * 1000;
  const code = await generate({ secret: target.totpSecret, epoch: Math.floor(Date.now() / 1000) });

  const flow = async (username: string) => (await signIn(target, username, 'openid', code)) !== undefined;

  async function person() {
    while (performance.now() < deadline && next < target.usernames.length) {
      const username = target.usernames[next++]!;
      const started = performance.now();
      const ok = await flow(username).catch(() => false);
      if (ok) latencies.push(performance.now() - started);
      else failures += 1;
    }
  }
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, person));
  const elapsed = (performance.now() - started) / 1000;
  return {
    flowsPerSecond: latencies.length / elapsed,
    latencies,
    failures,
    exhausted: next >= target.usernames.length,
  };
}

/** One complete sign-in of `username`; the token response, or undefined when any step failed. */
export async function signIn(
  target: LoginTarget,
  username: string,
  scope: string,
  code: string,
): Promise<Record<string, string> | undefined> {
  const browser = new Browser(target.issuer);
  const verifier = randomBytes(32).toString('base64url');
  const query = new URLSearchParams({
    client_id: target.clientId,
    response_type: 'code',
    scope,
    redirect_uri: target.redirectUri,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'),
    // A refresh token needs the consent screen (OIDC Core 11: offline_access requires prompt=consent).
    ...(scope.includes('offline_access') ? { prompt: 'consent' } : {}),
  });
  const { res } = await browser.follow(`/auth?${query}`);
  const loginPage = await res.text();
  const { res: mfa } = await browser.submit(loginPage, 'login', { username, password: target.password });
  const mfaPage = await mfa.text();
  let { res: next, external } = await browser.submit(mfaPage, 'mfa', { code });
  if (!external) {
    const consentPage = await next.text();
    ({ external } = await browser.submit(consentPage, 'consent', { scope: scope.split(' ') }));
  }
  const authorizationCode = external?.searchParams.get('code');
  if (!authorizationCode) return undefined;
  const token = await fetch(new URL('/token', target.issuer), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${target.clientId}:${target.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: authorizationCode,
      redirect_uri: target.redirectUri,
      code_verifier: verifier,
    }),
  });
  const tokens = (await token.json()) as Record<string, string>;
  return token.status === 200 ? tokens : undefined;
}

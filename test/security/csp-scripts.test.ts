import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { launchChromium, noChromium } from '../support/chromium.ts';
import { withKluis, type KluisFixture } from '../support/fixture.ts';
import type { TestKluis } from '../support/kluis.ts';
import { REDIRECT } from '../support/rp.ts';

// Kluis sends one script: oidc-provider's form_post auto-submit (the form_post response mode, and the logout of a
// visitor without a session), allowed by its hash on those pages only.
let kluis: TestKluis;
let web: AdapterPayload;
let house: KluisFixture<'web', never>;

before(async () => {
  house = await withKluis({ clients: { web: { redirect_uris: [REDIRECT], scope: 'openid' } } });
  ({ kluis } = house);
  web = house.clients.web;
});
after(() => house?.stop());

/** prompt=none without a session: oidc-provider answers login_required through the form_post response mode. */
const formPostUrl = () =>
  `${kluis.issuer}/auth?${new URLSearchParams({
    client_id: String(web.client_id),
    response_type: 'code',
    scope: 'openid',
    redirect_uri: REDIRECT,
    state: 'st',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    response_mode: 'form_post',
    prompt: 'none',
  })}`;

const scriptSrc = (csp: string | null) => /(?:^|;)\s*script-src ([^;]*)/.exec(csp ?? '')?.[1]?.trim();

describe('scripts under the Content-Security-Policy', () => {
  test('the form_post pages may run exactly their own inline script, by hash; other pages run none', async () => {
    for (const url of [formPostUrl(), `${kluis.issuer}/session/end`]) {
      const res = await fetch(url);
      const page = await res.text();
      const script = /<script>([\s\S]*?)<\/script>/.exec(page)?.[1];
      assert.ok(script, page);
      const hash = createHash('sha256').update(script).digest('base64');
      assert.equal(scriptSrc(res.headers.get('content-security-policy')), `'sha256-${hash}'`, url);
    }
    for (const path of ['/auth?client_id=nope', '/interaction/unknown', '/.well-known/openid-configuration']) {
      const other = await fetch(new URL(path, kluis.url));
      assert.equal(scriptSrc(other.headers.get('content-security-policy')), "'none'", path);
    }
  });

  test('in Chromium the form_post page submits itself to the client', { skip: noChromium }, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const blocked: string[] = [];
      page.on(
        'console',
        (message) => message.text().includes('Content Security Policy') && blocked.push(message.text()),
      );
      const posted = new Promise<string>((resolve) => {
        void page.route(`${REDIRECT}*`, async (route) => {
          resolve(route.request().postData() ?? '');
          await route.fulfill({ status: 200, contentType: 'text/plain', body: 'received' });
        });
      });
      await page.goto(formPostUrl());
      const late = new Promise<string>((_, reject) =>
        setTimeout(() => reject(new Error(`no submission: ${blocked.join(' ')}`)), 10_000).unref(),
      );
      const body = new URLSearchParams(await Promise.race([posted, late]));
      assert.equal(body.get('error'), 'login_required');
      assert.equal(body.get('state'), 'st');
      assert.deepEqual(blocked, []);

      // Logout of a visitor without a session submits itself too, and ends on the signed-out page.
      await page.goto(`${kluis.issuer}/session/end`);
      await page.waitForURL(/\/session\/end\/success/, { timeout: 10_000 });
      assert.deepEqual(blocked, []);
    } finally {
      await browser.close();
    }
  });
});

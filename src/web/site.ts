import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Router from '@koa/router';
import type { Middleware } from 'koa';
import { PageError } from './error-page.ts';
import { sendPage } from './page.ts';
import type { Pages } from './render.ts';

/**
 * What is not a step of a flow: the landing page at `/`, the one stylesheet and the logo (served by Kluis itself, so
 * the pages load nothing from third parties and the CSP stays `'self'`).
 */
export function siteRoutes(pages: Pages): Router {
  const router = new Router();
  const css = Buffer.from(pages.stylesheet);
  const cssTag = `"${createHash('sha256').update(css).digest('base64url').slice(0, 22)}"`;
  const logo = pages.brand.logo && { body: readFileSync(pages.brand.logo.path), type: pages.brand.logo.type };

  router.get('/', (ctx) => sendPage(ctx, 'shared/landing', {}));
  router.get('/assets/kluis.css', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('ETag', cssTag);
    if (ctx.get('if-none-match') === cssTag) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'text/css; charset=utf-8';
    ctx.body = css;
  });
  if (logo) {
    router.get('/assets/logo', (ctx) => {
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.type = logo.type;
      ctx.body = logo.body;
    });
  }
  return router;
}

/**
 * After Kluis's routers: a path under a prefix only Kluis serves (`/account`) that none of them matched is the HTML
 * 404 page, not the provider's plain "Not Found".
 */
export const pageNotFound: Middleware = async (ctx, next) => {
  if (!/^\/account(\/|$)/i.test(ctx.path)) return next();
  const text = { heading: 'error.notFound.heading', message: 'error.notFound.message' };
  throw new PageError('ERR_PAGE_NOT_FOUND', { status: 404, text, description: 'no such page', error: 'not_found' });
};

import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';

const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

/** Server-rendered pages from `views/`; every value is HTML-escaped unless a template says otherwise. */
const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(VIEWS_DIR), {
  autoescape: true,
  throwOnUndefined: false,
});

export function render(view: string, context: Record<string, unknown>): string {
  return env.render(`${view}.njk`, context);
}

/**
 * The layering of src/ (README, Layout), checked by `npm test`:
 *   errors.ts, log/, config/, i18n/ (message catalogues) → secrets/ (the box) → db/ → the protocol (oidc/) and the domain (auth/, audit/,
 *   consents/, clients/, people/) → web/, http/, cli/, demo/ → kluis.ts, main.ts, workers.ts (composition).
 * A module may import its own layer or a lower one, never a higher one; no module is part of an import cycle.
 */
const TOP = '^src/(kluis|main|workers)[.]ts$';
const EDGE = '^src/(web|http|cli|demo)/';
const DOMAIN = '^src/(auth|audit|consents|clients|people)/';
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
    {
      name: 'db-imports-nothing-above-it',
      comment: 'Storage knows tables and oidc-provider payloads, not the protocol, the domain or the web.',
      severity: 'error',
      from: { path: '^src/db/' },
      to: { path: '^src/', pathNot: ['^src/db/', '^src/errors[.]ts$', '^src/log/', '^src/config/', '^src/secrets/(secret-box|master-secret)[.]ts$'] },
    },
    {
      name: 'protocol-imports-no-web-or-domain',
      comment: 'oidc/ rooms are wired to the audit log and the consents by the composition root, through hooks.',
      severity: 'error',
      from: { path: '^src/oidc/' },
      to: { path: [EDGE, DOMAIN, TOP] },
    },
    {
      name: 'domain-imports-no-web',
      severity: 'error',
      from: { path: DOMAIN },
      to: { path: [EDGE, TOP] },
    },
    {
      name: 'low-layers-stay-low',
      severity: 'error',
      from: { path: '^src/(errors[.]ts|log/|config/|i18n/|secrets/(secret-box|master-secret)[.]ts)' },
      to: { path: '^src/', pathNot: ['^src/errors[.]ts$', '^src/log/', '^src/config/', '^src/i18n/', '^src/secrets/(secret-box|master-secret)[.]ts$'] },
    },
    {
      name: 'edges-do-not-import-each-other-upward',
      comment: 'Only the composition root sees every edge.',
      severity: 'error',
      from: { path: EDGE },
      to: { path: TOP },
    },
    {
      name: 'accounts-only-through-the-store',
      comment:
        'Outside src/db, accounts are reached through AccountStore (db/account-store.ts), so every caller can be given ' +
        'a store (a fake in unit tests). Types are compiled away and not seen. The one-time re-wrap of old recovery ' +
        'codes runs on its own transaction, outside the store.',
      severity: 'error',
      from: { path: '^(src|bench)/', pathNot: ['^src/db/', '^src/auth/recovery-codes[.]ts$'] },
      to: { path: '^src/db/(accounts|activation-codes|lockout|second-factors|security-events|sign-in-steps)[.]ts$' },
    },
    { name: 'src-never-imports-tests', severity: 'error', from: { path: '^(src|bench)/' }, to: { path: '^test/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    tsPreCompilationDeps: false,
    parser: 'swc',
  },
};

-- Recovery codes made before migration 0008 are unsalted SHA-256 of 12-character codes ('sha256'): a dump alone
-- lets every one be cracked offline. The first start after this migration re-wraps each such row as HMAC-SHA256,
-- under a key derived from KLUIS_SECRET, of the stored SHA-256 ('hmac-sha256'); that needs the secret, so it runs in
-- Kluis (src/auth/recovery-codes.ts), not here. The codes keep working, once each.
alter table recovery_codes drop constraint recovery_codes_scheme_check,
  add constraint recovery_codes_scheme_check check (scheme in ('sha256', 'hmac', 'hmac-sha256'));

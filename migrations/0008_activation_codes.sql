-- Activation codes (PSD2 RTS Art 4(3)(a), Art 22-24): the first authenticator of an account, and the next one after
-- `users reset-mfa`, is enrolled only with a code the operator handed over out of band, never with the password
-- alone. One per account, single-use (consumed by one conditional DELETE), expiring, stored only as a keyed hash
-- (HMAC-SHA256 under a key derived from KLUIS_SECRET), so a database dump yields nothing to enrol with.
create table activation_codes (
  account_id  text        primary key references accounts (id) on delete cascade,
  code_hash   text        not null,
  expires_at  timestamptz not null,
  created_at  timestamptz not null default now()
);

-- Password steps waiting for their second factor. The interaction keeps the step's id; the second step deletes the
-- row before judging anything, so of parallel posts for one step exactly one is judged. Rows of abandoned steps
-- expire and are removed by later password steps. Unlogged: after a crash a person only types the password again.
create unlogged table sign_in_steps (
  id          text        primary key,
  expires_at  timestamptz not null
);
create index sign_in_steps_expiry on sign_in_steps (expires_at);

-- Recovery codes made from now on are 120-bit codes stored as keyed hashes ('hmac'); those made before are
-- unsalted SHA-256 of 12-character codes ('sha256') and keep working, once each, until the person makes new ones.
alter table recovery_codes add column scheme text not null default 'sha256' check (scheme in ('sha256', 'hmac'));
-- Every insert names its scheme.
alter table recovery_codes alter column scheme drop default;

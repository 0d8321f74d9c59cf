-- People who sign in: credentials for strong customer authentication (PSD2 RTS Art 4) and profile claims.
create table accounts (
  id                     text        primary key,
  username               text        not null,
  email                  text,
  password_hash          text        not null,
  status                 text        not null default 'active' check (status in ('active', 'disabled')),
  claims                 jsonb       not null default '{}'::jsonb,
  totp_secret_encrypted  text,
  -- The last accepted TOTP time step: a code is never accepted twice (RFC 6238 5.2).
  totp_last_step         bigint,
  failed_attempts        integer     not null default 0,
  lockouts               integer     not null default 0,
  locked_until           timestamptz,
  created_at             timestamptz not null default now(),
  updated_at             timestamptz not null default now()
);

create unique index accounts_username on accounts (lower(username));
create unique index accounts_email on accounts (lower(email)) where email is not null;

-- Single-use recovery codes, stored as SHA-256 of high-entropy random codes.
create table recovery_codes (
  account_id  text        not null references accounts (id) on delete cascade,
  code_hash   text        not null,
  used_at     timestamptz,
  primary key (account_id, code_hash)
);

-- Failed sign-ins per client IP in a sliding window, shared by every process.
create table login_failures_by_ip (
  ip            text        primary key,
  window_start  timestamptz not null,
  failures      integer     not null
);

-- A person's consent to a client is an oidc-provider Grant; find it by person and client across sessions.
create index oidc_models_grant_owner on oidc_models ((payload->>'accountId'), (payload->>'clientId')) where model = 'Grant';

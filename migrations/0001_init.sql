-- Kluis core schema: oidc-provider state, server secrets, signing keys, audit log.

-- Every oidc-provider model lives in one table (Session, AccessToken, AuthorizationCode, RefreshToken, DeviceCode,
-- ClientCredentials, Client, InitialAccessToken, RegistrationAccessToken, Interaction, ReplayDetection,
-- PushedAuthorizationRequest, Grant, BackchannelAuthenticationRequest). The secondary keys oidc-provider looks
-- records up by are copied out of the payload into columns so they can be indexed.
create table oidc_models (
  model        text        not null,
  id           text        not null,
  payload      jsonb       not null,
  grant_id     text,
  uid          text,
  user_code    text,
  expires_at   timestamptz,
  consumed_at  timestamptz,
  primary key (model, id)
);

create index oidc_models_grant_id on oidc_models (model, grant_id) where grant_id is not null;
create index oidc_models_uid on oidc_models (model, uid) where uid is not null;
create index oidc_models_user_code on oidc_models (model, user_code) where user_code is not null;
create index oidc_models_expires_at on oidc_models (expires_at) where expires_at is not null;

-- Secrets Kluis generates for itself (cookie keys, pairwise salt), encrypted under the key-encryption key.
-- In development only, the master secret the key-encryption key is derived from is kept here too.
create table server_secrets (
  name        text        primary key,
  value       text        not null,
  created_at  timestamptz not null default now()
);

-- Signing keys. A key is published from created_at, signs from activates_at until retired_at,
-- and stays published for verification until expires_at.
create table signing_keys (
  kid                    text        primary key,
  alg                    text        not null,
  public_jwk             jsonb       not null,
  private_jwk_encrypted  text        not null,
  created_at             timestamptz not null default now(),
  activates_at           timestamptz not null,
  retired_at             timestamptz,
  expires_at             timestamptz,
  check (retired_at is null or retired_at >= activates_at),
  check (expires_at is null or (retired_at is not null and expires_at >= retired_at))
);

create index signing_keys_alg on signing_keys (alg, activates_at);

-- The audit log: append-only. Rows are never updated or deleted; the triggers make that hold for every role
-- that is not the table owner disabling triggers on purpose.
create table audit_events (
  id           bigint      generated always as identity primary key,
  occurred_at  timestamptz not null default now(),
  type         text        not null,
  actor        text        not null,
  client_id    text,
  account_id   text,
  grant_id     text,
  request_id   text,
  details      jsonb       not null default '{}'::jsonb
);

create index audit_events_occurred_at on audit_events (occurred_at);
create index audit_events_type on audit_events (type, occurred_at);

create function audit_events_append_only() returns trigger
language plpgsql as $$
begin
  raise exception 'audit_events is append-only (% refused)', tg_op
    using errcode = 'insufficient_privilege';
end;
$$;

create trigger audit_events_no_update_delete
  before update or delete on audit_events
  for each row execute function audit_events_append_only();

create trigger audit_events_no_truncate
  before truncate on audit_events
  for each statement execute function audit_events_append_only();

-- Resource servers (APIs) clients may request tokens for with a resource indicator (RFC 8707).
-- Access tokens for them are JWTs (RFC 9068) unless access_token_format says otherwise.
create table resource_servers (
  identifier          text        primary key,
  scope               text        not null,
  access_token_format text        not null default 'jwt' check (access_token_format in ('jwt', 'opaque')),
  signing_alg         text        not null default 'ES256' check (signing_alg in ('ES256', 'PS256', 'EdDSA')),
  access_token_ttl    integer     check (access_token_ttl between 30 and 600),
  created_at          timestamptz not null default now()
);

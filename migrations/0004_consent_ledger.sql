-- GDPR Art 7(1): the controller must be able to show consent was given, and Art 7(3): withdrawn. Every grant,
-- change and revocation is appended here and kept when the grant itself is destroyed. Rows name the person only by
-- their random account id, so after an account is erased they are pseudonymous.
create table consent_ledger (
  id           bigint      generated always as identity primary key,
  occurred_at  timestamptz not null default now(),
  account_id   text        not null,
  client_id    text        not null,
  client_name  text,
  grant_id     text        not null,
  action       text        not null check (action in ('granted', 'changed', 'revoked')),
  channel      text        not null check (channel in ('consent_screen', 'account_area', 'operator', 'client', 'account_deletion')),
  scopes       text[]      not null default '{}',
  claims       text[]      not null default '{}',
  resources    jsonb       not null default '{}'::jsonb
);

create index consent_ledger_account on consent_ledger (account_id, occurred_at);

-- Generic: refuses changes to whichever append-only table it guards.
create function refuse_change_to_append_only() returns trigger
language plpgsql as $$
begin
  raise exception '% is append-only (% refused)', tg_table_name, tg_op
    using errcode = 'insufficient_privilege';
end;
$$;

create trigger consent_ledger_no_update_delete
  before update or delete on consent_ledger
  for each row execute function refuse_change_to_append_only();

create trigger consent_ledger_no_truncate
  before truncate on consent_ledger
  for each statement execute function refuse_change_to_append_only();

-- What a person sees as their security activity: personal data (address, device), erased with the account.
create table security_events (
  id           bigint      generated always as identity primary key,
  occurred_at  timestamptz not null default now(),
  account_id   text        not null references accounts (id) on delete cascade,
  type         text        not null,
  ip           text,
  device       text
);

create index security_events_account on security_events (account_id, occurred_at desc);

-- When a grant was last used to issue a token, and until when JWT access tokens issued under it stay valid
-- (they cannot be recalled; the account area says when such access ends).
create table grant_usage (
  grant_id          text        primary key,
  last_used_at      timestamptz not null,
  jwt_access_until  timestamptz
);

-- A deleted account's username is held back for a while so nobody can pose as the person right away.
create table retired_usernames (
  username_hash  text        primary key,
  until          timestamptz not null
);

-- The issuer the server last started with (issue 16): the operator CLI, run without ISSUER, speaks for the same
-- issuer as the running server (its provider, the otpauth labels it prints). One row, replaced at every start.
create table server_issuer (
  singleton   boolean     primary key default true check (singleton),
  issuer      text        not null,
  recorded_at timestamptz not null default now()
);

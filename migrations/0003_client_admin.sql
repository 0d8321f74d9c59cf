-- Operator controls over clients that are not client metadata (so RFC 7592 reads never show them).

-- A disabled client is treated as unknown: it cannot authenticate, and its tokens stop introspecting as active.
create table disabled_clients (
  client_id    text        primary key,
  disabled_at  timestamptz not null default now()
);

-- After `clients rotate-secret`, the previous secret keeps working until expires_at, so the client can roll over
-- without downtime. Encrypted like the current secret.
create table previous_client_secrets (
  client_id         text        not null,
  secret_encrypted  text        not null,
  expires_at        timestamptz not null
);

create index previous_client_secrets_client on previous_client_secrets (client_id);

-- Rate limits shared by every Kluis process: one fixed-window counter per key (e.g. "token-client:<id>").
create table rate_limits (
  key           text        primary key,
  window_start  timestamptz not null,
  hits          integer     not null
);

create index rate_limits_window on rate_limits (window_start);

-- Tamper evidence for the audit log: each row carries a SHA-256 over its content and the previous row's hash, in the
-- order `seq` gives (assigned under a lock, so concurrent writers from several processes form one chain).
alter table audit_events add column seq bigint, add column prev_hash text, add column hash text;

create function audit_event_digest(e audit_events) returns text
language sql stable as $$
  select encode(sha256(convert_to(concat_ws(E'\x1f',
    e.seq::text,
    to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    e.type, e.actor, coalesce(e.client_id, ''), coalesce(e.account_id, ''), coalesce(e.grant_id, ''),
    coalesce(e.request_id, ''), e.details::text, e.prev_hash), 'UTF8')), 'hex')
$$;

create function audit_events_chain() returns trigger
language plpgsql as $$
declare
  last_seq bigint;
  last_hash text;
begin
  -- One writer at a time extends the chain; the lock ends with the inserting transaction.
  perform pg_advisory_xact_lock(7305891, 1);
  select seq, hash into last_seq, last_hash from audit_events where seq is not null order by seq desc limit 1;
  new.seq := coalesce(last_seq, 0) + 1;
  new.prev_hash := coalesce(last_hash, repeat('0', 64));
  new.hash := audit_event_digest(new);
  return new;
end;
$$;

-- Rows written before this migration join the chain in id order.
alter table audit_events disable trigger audit_events_no_update_delete;
do $$
declare
  r record;
  n bigint := 0;
  previous text := repeat('0', 64);
begin
  for r in select id from audit_events order by id loop
    n := n + 1;
    update audit_events set seq = n, prev_hash = previous where id = r.id;
    update audit_events a set hash = audit_event_digest(a) where id = r.id returning hash into previous;
  end loop;
end;
$$;
alter table audit_events enable trigger audit_events_no_update_delete;

alter table audit_events alter column seq set not null, alter column prev_hash set not null, alter column hash set not null;
create unique index audit_events_seq on audit_events (seq);

create trigger audit_events_chain before insert on audit_events for each row execute function audit_events_chain();

-- The role the server should connect as: it may read and write everything it needs, but only append to the audit log
-- and the consent ledger. Operators create a login role in it (see README, "Running with a restricted role").
do $$
begin
  if not exists (select from pg_roles where rolname = 'kluis_server') then
    create role kluis_server nologin;
  end if;
end;
$$;

grant usage on schema public to kluis_server;
grant select, insert, update, delete on all tables in schema public to kluis_server;
grant usage, select on all sequences in schema public to kluis_server;
revoke update, delete, truncate on audit_events, consent_ledger from kluis_server;
-- Tables of later migrations get the same grants (the audit tables above keep their restriction).
alter default privileges in schema public grant select, insert, update, delete on tables to kluis_server;
alter default privileges in schema public grant usage, select on sequences to kluis_server;

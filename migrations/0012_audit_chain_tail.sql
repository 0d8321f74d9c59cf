-- The audit chain's trigger read the chain's last row (and took its lock) for every row inserted; a statement that
-- appends many rows (a batch of tokens with their audit events) paid that for each. Now the first row of a
-- transaction takes the lock and reads the tail; the rows after it continue from a transaction-local setting. That
-- is exact: the lock is held until the transaction ends, so no other writer can extend the chain in between, and
-- the setting ends with the transaction (and is undone with a rolled-back savepoint, as are the rows it counted).
create or replace function audit_events_chain() returns trigger
language plpgsql as $$
declare
  tail text := current_setting('kluis.audit_tail', true);
  last_seq bigint;
  last_hash text;
begin
  if tail is null or tail = '' then
    perform pg_advisory_xact_lock(7305891, 1);
    select seq, hash into last_seq, last_hash from audit_events where seq is not null order by seq desc limit 1;
  else
    last_seq := split_part(tail, ' ', 1)::bigint;
    last_hash := split_part(tail, ' ', 2);
  end if;
  new.seq := coalesce(last_seq, 0) + 1;
  new.prev_hash := coalesce(last_hash, repeat('0', 64));
  new.hash := audit_event_digest(new);
  perform set_config('kluis.audit_tail', new.seq || ' ' || new.hash, true);
  return new;
end;
$$;

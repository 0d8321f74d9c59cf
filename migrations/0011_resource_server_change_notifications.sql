-- Every Kluis process caches resource servers (a token request naming one reads it); a change through the CLI tells
-- all of them at once through NOTIFY, as 0006 does for clients.
create function notify_resource_server_changed() returns trigger
language plpgsql as $$
begin
  perform pg_notify('kluis_resource_server_changed', coalesce(new.identifier, old.identifier));
  return null;
end;
$$;

create trigger resource_servers_changed
  after insert or update or delete on resource_servers
  for each row execute function notify_resource_server_changed();

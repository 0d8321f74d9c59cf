-- Every Kluis process caches client metadata; a change to a client (CLI, dynamic registration, disabling) tells all of
-- them at once through NOTIFY, so a cached client is never used after it changed.
create function notify_client_changed() returns trigger
language plpgsql as $$
begin
  if tg_table_name = 'oidc_models' then
    perform pg_notify('kluis_client_changed', coalesce(new.id, old.id));
  else
    perform pg_notify('kluis_client_changed', coalesce(new.client_id, old.client_id));
  end if;
  return null;
end;
$$;

create trigger oidc_models_client_written
  after insert or update on oidc_models
  for each row when (new.model = 'Client')
  execute function notify_client_changed();

create trigger oidc_models_client_deleted
  after delete on oidc_models
  for each row when (old.model = 'Client')
  execute function notify_client_changed();

create trigger disabled_clients_changed
  after insert or update or delete on disabled_clients
  for each row execute function notify_client_changed();

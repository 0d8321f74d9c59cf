-- What the consent page calls an API (issue 16): a short title ("Payments API") and an optional sentence of what it
-- lets an app do ("Make payments from your accounts"), both set by the operator. A description needs a title.
alter table resource_servers
  add column title       text check (char_length(title) between 1 and 80),
  add column description text check (char_length(description) between 1 and 200),
  add constraint resource_servers_description_needs_title check (description is null or title is not null);

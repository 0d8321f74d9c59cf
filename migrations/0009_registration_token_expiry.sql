-- Registration access tokens (RFC 7592) used to live for ever; they now expire after REGISTRATION_ACCESS_TOKEN_TTL
-- (30 days by default). Tokens issued before get that default lifetime from the upgrade on, so none stays valid
-- without end; an update within that time issues a new token of the configured lifetime.
update oidc_models
   set expires_at = now() + interval '30 days'
 where model = 'RegistrationAccessToken' and expires_at is null;

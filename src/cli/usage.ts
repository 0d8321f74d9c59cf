/** `kluis --help`. */
export const USAGE = `usage: kluis <command>

  migrate                                  apply pending database migrations
  clients add [--metadata JSON]            register a client (metadata JSON from --metadata or stdin);
                                           prints the stored client with its secret, once
  clients list | show ID | remove ID
  clients update ID [--metadata JSON]       merge metadata (JSON from --metadata or stdin; null removes a field)
  clients rotate-secret ID [--grace SECONDS]
                                           new secret, printed once; the old one works for the grace period
                                           (default CLIENT_SECRET_ROTATION_GRACE)
  clients disable ID | enable ID           a disabled client cannot authenticate; its codes and tokens are revoked
  iat create [--expires-in SECONDS] [--single-use]
                                           an initial access token for dynamic client registration (POST /reg),
                                           printed once; default expiry 86400 s
  keys list                                signing keys with their state
  keys rotate                              new keys now, signing after KEY_ROTATION_OVERLAP
  resources add URI --scope "a b" [--format jwt|opaque] [--alg ES256|PS256|EdDSA] [--ttl SECONDS]
                [--title "Payments API" [--description "Make payments from your accounts"]]
                                           register an API; the consent page shows its title and description
  resources list | remove URI
  users add USERNAME [--email ADDRESS] [--name "Full Name"] [--totp]
                                           add a person; the password is read from stdin; --totp pre-enrols
                                           an authenticator and prints its otpauth:// URI once; without it
                                           prints a single-use activation code (ACTIVATION_CODE_TTL), to hand
                                           over out of band: the account cannot sign in until activated with it
  users list | unlock USERNAME
  users disable USERNAME                   refuse sign-in; revoke every consent, end every session and token
  users reset-mfa USERNAME                 remove the authenticator, revoke every consent, end every session
                                           and token; prints a new activation code
  users delete USERNAME                    erase the person (GDPR Art 17): consents revoked, personal data gone
  audit verify                             check the tamper-evident chain; exit 1 naming the first broken event
  audit tail [--limit N]                   the newest N events (default 20) as JSON lines
  audit export [--since ISO-8601]          every event (since a time) as JSON lines, for a SIEM
  consents list USERNAME                   the person's consents, per client
  consents revoke USERNAME [CLIENT_ID]     withdraw one client's consent, or all of them, as the operator

Configuration comes from the same environment variables as the server (docs/configuration.md).`;

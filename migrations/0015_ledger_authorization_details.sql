-- What an open banking consent authorised (RFC 9396 authorization details: the payment's amount and payee, the
-- accounts and what may be read of them), so the person's history still says it once the consent is used or gone.
-- Like the audit log's consent.granted details it is kept after erasure: it is the record of an authorisation that
-- PSD2 (Art 72, RTS Art 5) obliges the bank to be able to show (GDPR Art 17(3)(b)).
alter table consent_ledger add column authorization_details jsonb not null default '[]'::jsonb;

import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/writer.ts';
import type { Database } from '../db/database.ts';
import type { SecretBox } from '../secrets/secret-box.ts';

/**
 * What the client commands work with; each command takes only the part it uses. `provider` is oidc-provider's
 * instance, whose Client class validates metadata as registration does; `production` is an https issuer.
 */
export interface ClientDeps {
  db: Database;
  box: SecretBox;
  audit: AuditLog;
  provider: Provider;
  production: boolean;
}

export type Metadata = Record<string, unknown>;

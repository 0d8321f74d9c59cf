import type { Config } from '../../../config/env.ts';
import type { AccountRecords } from '../../../db/account-store.ts';
import type { ChangeCache } from '../../../db/change-cache.ts';
import type { Database } from '../../../db/database.ts';
import type { SaveRecorder } from '../../../db/oidc-adapter.ts';
import type { OidcBatches } from '../../../db/oidc-batches.ts';
import type { ServerSecrets } from '../../../secrets/server-secrets.ts';
import type { KeyRing } from '../keys.ts';
import type { ProviderPages } from '../pages.ts';

export interface ProviderSettings {
  config: Config;
  db: Database;
  /** Whom tokens and claims are issued for. */
  accounts: Pick<AccountRecords, 'findById'>;
  secrets: ServerSecrets;
  keys: KeyRing;
  /** Scopes of the registered resource servers; oidc-provider only lets clients register known scopes. */
  resourceScopes: string[];
  /** The server's cache of clients and resource servers (invalidated by NOTIFY); the CLI runs without one. */
  cache?: ChangeCache | undefined;
  pages: ProviderPages;
  /** What a token's save writes in its own statement: its audit event and grant use (the server's audit log). */
  onSave?: SaveRecorder | undefined;
  /** The server's group-committed statements, shared with its audit log (one per process; the CLI has its own). */
  batches?: OidcBatches | undefined;
}

import { ConfigError } from './config-error.ts';
import { configSchema, type Config } from './schema.ts';

export { ConfigError };
export type { Config, LogFormatSetting, LogLevel, SoftwareStatementTrust } from './schema.ts';

/** Variables whose values never appear in an error message. */
const SECRET_VARIABLES = new Set(['KLUIS_SECRET', 'DATABASE_URL']);

/** Reads the configuration once at boot; a wrong value throws a ConfigError of one line naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty variables count as unset, the way operators write `FOO=` in env files.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = configSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  const messages = parsed.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? 'environment');
    const got = present[variable];
    const shown = SECRET_VARIABLES.has(variable) || got === undefined ? '' : ` (got ${JSON.stringify(got)})`;
    return issue.message.startsWith(variable) ? `${issue.message}${shown}` : `${variable}: ${issue.message}${shown}`;
  });
  throw new ConfigError(messages.join('; '));
}

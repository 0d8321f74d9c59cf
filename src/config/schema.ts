import { z } from 'zod';
import { encodedRandomBits, MASTER_SECRET_BITS } from '../secrets/master-secret.ts';
import { brandFrom, brandVariables } from './brand.ts';
import { ConfigError } from './config-error.ts';
import { ACCESS_TOKEN_TTL_BOUNDS, ID_TOKEN_TTL } from './protocol-constants.ts';
import { loadTrustedJwks } from './software-statement-jwks.ts';
import { parseTrustedProxies } from './trusted-proxies.ts';

/**
 * Every setting Kluis reads from the environment, written once: each variable with its rule and default, then the
 * shape the rest of Kluis reads (`Config`, inferred from this schema). Adding a variable is a line in `variables` and
 * its place in the shape; the type follows. A wrong value stops the process with one line naming the variable and
 * what it expects.
 */

const seconds = (name: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${name} must be a whole number of seconds` })
    .int(`${name} must be a whole number of seconds`)
    .min(min, `${name} must be at least ${min} seconds`)
    .max(max, `${name} must be at most ${max} seconds`);

const flag = (name: string) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], {
      error: `${name} must be true or false`,
    })
    .transform((value) => ['true', '1', 'yes', 'on'].includes(value));

const wholeNumber = (name: string, min: number, max: number, message?: string) => {
  const rule = message ?? `${name} must be a whole number between ${min} and ${max}`;
  return z.coerce.number({ error: rule }).int(rule).min(min, rule).max(max, rule);
};

const port = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a TCP port number (1-65535)` })
    .int(`${name} must be a TCP port number (1-65535)`)
    .min(1, `${name} must be a TCP port number (1-65535)`)
    .max(65535, `${name} must be a TCP port number (1-65535)`);

const accessTokenSeconds = (name: string) => seconds(name, ACCESS_TOKEN_TTL_BOUNDS.min, ACCESS_TOKEN_TTL_BOUNDS.max);

const ISSUER_RULE =
  'ISSUER must be an absolute http(s) URL without query, fragment or trailing slash, e.g. https://login.example.com';

function isIssuer(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && !url.search && !url.hash && !value.endsWith('/');
  } catch {
    return false;
  }
}

/** The environment variables, by their names. */
const variables = z.object({
  PORT: port('PORT').default(3000),
  // Loopback unless the operator says otherwise: the reverse proxy in front of Kluis is usually on the same host.
  HOST: z.string().min(1, 'HOST must be an interface address such as 127.0.0.1 or 0.0.0.0').default('127.0.0.1'),
  ISSUER: z.string().refine(isIssuer, ISSUER_RULE).optional(),
  DATABASE_URL: z
    .string()
    .refine((value) => /^postgres(ql)?:\/\//.test(value), 'DATABASE_URL must be a postgres:// connection URL')
    .optional(),
  DATABASE_POOL_MAX: wholeNumber('DATABASE_POOL_MAX', 1, 100).default(10),
  KLUIS_DATA_DIR: z.string().min(1, 'KLUIS_DATA_DIR must be a directory path').default('.data'),
  EMBEDDED_PG_PORT: port('EMBEDDED_PG_PORT').default(54329),
  TRUST_PROXY: flag('TRUST_PROXY').optional(),
  TRUSTED_PROXIES: z.string().optional(),
  MTLS_CERTIFICATE_HEADER: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'MTLS_CERTIFICATE_HEADER must be an HTTP header name, e.g. X-SSL-Client-Cert')
    .optional(),
  CLIENT_SECRET_ROTATION_GRACE: seconds('CLIENT_SECRET_ROTATION_GRACE', 0, 30 * 86400).default(86400),
  REGISTRATION_ACCESS_TOKEN_TTL: seconds('REGISTRATION_ACCESS_TOKEN_TTL', 300, 365 * 86400).default(30 * 86400),
  SOFTWARE_STATEMENT_JWKS: z.string().min(1).optional(),
  SOFTWARE_STATEMENT_ISSUER: z.string().min(1).optional(),
  SOFTWARE_STATEMENT_REQUIRED: flag('SOFTWARE_STATEMENT_REQUIRED').default(false),
  RATE_LIMIT_WINDOW: seconds('RATE_LIMIT_WINDOW', 1, 3600).default(60),
  RATE_LIMIT_LOGIN: wholeNumber('RATE_LIMIT_LOGIN', 1, 1000000).default(30),
  RATE_LIMIT_TOKEN: wholeNumber('RATE_LIMIT_TOKEN', 1, 1000000).default(600),
  RATE_LIMIT_AUTHORIZE: wholeNumber('RATE_LIMIT_AUTHORIZE', 1, 1000000).default(120),
  RATE_LIMIT_REGISTER: wholeNumber('RATE_LIMIT_REGISTER', 1, 1000000).default(10),
  METRICS_PORT: wholeNumber(
    'METRICS_PORT',
    0,
    65535,
    'METRICS_PORT must be a TCP port number (0 picks a free one)',
  ).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  WORKERS: wholeNumber('WORKERS', 1, 64).default(1),
  DEMO: z.enum(['auto', 'on', 'off'], { error: 'DEMO must be auto, on or off' }).default('auto'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty'], { error: 'LOG_FORMAT must be auto, json or pretty' }).default('auto'),
  KLUIS_SECRET: z
    .string()
    .refine(
      (value) => encodedRandomBits(value) >= MASTER_SECRET_BITS,
      'KLUIS_SECRET must hold at least 256 bits of random data: 64 hex or 43 base64 characters, ' +
        'e.g. the output of `openssl rand -base64 32`',
    )
    .optional(),
  ACCESS_TOKEN_TTL: accessTokenSeconds('ACCESS_TOKEN_TTL').default(600),
  JWT_ACCESS_TOKEN_TTL: accessTokenSeconds('JWT_ACCESS_TOKEN_TTL').default(300),
  USERNAME_QUARANTINE: seconds('USERNAME_QUARANTINE', 0, 365 * 86400).default(30 * 86400),
  KEY_ROTATION_OVERLAP: seconds('KEY_ROTATION_OVERLAP', 0, 30 * 86400).default(3600),
  // A retired key stays published while tokens it signed can still be presented.
  KEY_RETENTION: seconds('KEY_RETENTION', ID_TOKEN_TTL, 365 * 86400).default(86400),
  KEYS_REFRESH_INTERVAL: seconds('KEYS_REFRESH_INTERVAL', 1, 60).default(30),
  SWEEP_INTERVAL: seconds('SWEEP_INTERVAL', 1, 86400).default(60),
  SWEEP_BATCH_SIZE: wholeNumber('SWEEP_BATCH_SIZE', 1, 100000).default(1000),
  SECURITY_EVENT_RETENTION: seconds('SECURITY_EVENT_RETENTION', 86400, 3650 * 86400).default(180 * 86400),
  SHUTDOWN_TIMEOUT: seconds('SHUTDOWN_TIMEOUT', 1, 300).default(10),
  SCA_MAX_AGE: seconds('SCA_MAX_AGE', 30, 86400).default(300),
  LOCKOUT_THRESHOLD: wholeNumber('LOCKOUT_THRESHOLD', 3, 10).default(5),
  LOCKOUT_DURATION: seconds('LOCKOUT_DURATION', 60, 86400).default(300),
  LOCKOUT_MAX_DURATION: seconds('LOCKOUT_MAX_DURATION', 60, 30 * 86400).default(86400),
  LOGIN_IP_LIMIT: wholeNumber('LOGIN_IP_LIMIT', 5, 100000).default(30),
  LOGIN_IP_WINDOW: seconds('LOGIN_IP_WINDOW', 60, 86400).default(900),
  ACTIVATION_CODE_TTL: seconds('ACTIVATION_CODE_TTL', 300, 90 * 86400).default(7 * 86400),
  ARGON2_MEMORY_KIB: z.coerce
    .number({ error: 'ARGON2_MEMORY_KIB must be a whole number of KiB, at least 19456 (OWASP)' })
    .int('ARGON2_MEMORY_KIB must be a whole number of KiB, at least 19456 (OWASP)')
    .min(19456, 'ARGON2_MEMORY_KIB must be a whole number of KiB, at least 19456 (OWASP)')
    .max(4194304, 'ARGON2_MEMORY_KIB must be at most 4194304 (4 GiB)')
    .default(19456),
  ARGON2_ITERATIONS: wholeNumber('ARGON2_ITERATIONS', 2, 20).default(2),
  ARGON2_PARALLELISM: wholeNumber('ARGON2_PARALLELISM', 1, 16).default(1),
  ...brandVariables,
});

/**
 * The variables in the shape Kluis reads. Refusals that involve more than one variable throw a ConfigError with its
 * whole message: zod runs this transform only once every variable is valid on its own.
 */
export const configSchema = variables.transform((e) => {
  const issuer = e.ISSUER ?? `http://localhost:${e.PORT}`;
  const production = issuer.startsWith('https://');
  if (production && !e.KLUIS_SECRET) {
    throw new ConfigError(
      'KLUIS_SECRET is required when ISSUER is https (production): set it to 256 bits of random data, ' +
        'e.g. `openssl rand -base64 32`; Kluis never generates it for you',
    );
  }
  const trustedProxies = parseTrustedProxies(e.TRUSTED_PROXIES, e.TRUST_PROXY);
  const trustProxy = trustedProxies.length > 0;
  if (production && !trustProxy) {
    // Kluis serves plain HTTP; with an https issuer its Secure cookies and https URLs need the proxy's word that the
    // browser used https (X-Forwarded-Proto), which Kluis only believes from a trusted proxy.
    throw new ConfigError(
      'ISSUER is https but Kluis serves plain HTTP: run it behind a TLS-terminating proxy that sets ' +
        'X-Forwarded-Proto and set TRUSTED_PROXIES to its address (or TRUST_PROXY=true for a proxy on this host)',
    );
  }
  if (e.MTLS_CERTIFICATE_HEADER && !trustProxy) {
    // Without a proxy that strips and sets the header, any client could send a certificate it does not hold.
    throw new ConfigError(
      'MTLS_CERTIFICATE_HEADER is set but no proxy is trusted: the certificate header is believed only from a ' +
        'trusted TLS-terminating proxy; set TRUSTED_PROXIES (or TRUST_PROXY=true)',
    );
  }
  if (production && e.DEMO === 'on') {
    throw new ConfigError('DEMO=on is for development only; it is refused when ISSUER is https (production)');
  }
  const jwks = e.SOFTWARE_STATEMENT_JWKS === undefined ? undefined : loadTrustedJwks(e.SOFTWARE_STATEMENT_JWKS);
  if (e.SOFTWARE_STATEMENT_REQUIRED && !jwks) {
    throw new ConfigError(
      'SOFTWARE_STATEMENT_REQUIRED=true needs SOFTWARE_STATEMENT_JWKS: the directory keys that sign the statements',
    );
  }

  return {
    port: e.PORT,
    host: e.HOST,
    issuer,
    /** true when the issuer is https: production rules apply (operator-supplied secrets). */
    production,
    /** undefined: Kluis runs its own embedded PostgreSQL under dataDir. */
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    dataDir: e.KLUIS_DATA_DIR,
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    /** Forwarded headers (X-Forwarded-*, X-Request-Id, the certificate header) are honoured from trustedProxies. */
    trustProxy,
    /**
     * The addresses and CIDR ranges (e.g. `10.0.0.0/24`, `::1`) of the proxies whose forwarded headers Kluis
     * believes, checked against each connection's remote address; every other peer's forwarded headers are
     * stripped. Empty when trustProxy is off.
     */
    trustedProxies,
    /**
     * The header in which the TLS-terminating proxy passes the verified client certificate (URL-encoded PEM, as
     * nginx's $ssl_client_escaped_cert); undefined: mutual TLS is off.
     */
    mtlsCertificateHeader: e.MTLS_CERTIFICATE_HEADER?.toLowerCase(),
    /** Requests per RATE_LIMIT_WINDOW, counted in Postgres so every process shares them. */
    rateLimits: {
      windowSeconds: e.RATE_LIMIT_WINDOW,
      login: e.RATE_LIMIT_LOGIN,
      token: e.RATE_LIMIT_TOKEN,
      authorize: e.RATE_LIMIT_AUTHORIZE,
      register: e.RATE_LIMIT_REGISTER,
    },
    /** Prometheus metrics on their own listener (never the public port); undefined: off. */
    metrics: e.METRICS_PORT === undefined ? undefined : { port: e.METRICS_PORT, host: e.METRICS_HOST },
    registration: {
      /** Seconds a client's previous secret keeps working after `clients rotate-secret`. */
      secretRotationGrace: e.CLIENT_SECRET_ROTATION_GRACE,
      /** Seconds an RFC 7592 registration access token lives; every update issues a new one. */
      accessTokenTtl: e.REGISTRATION_ACCESS_TOKEN_TTL,
      /** Whose software statements (RFC 7591 2.3) dynamic registration accepts. */
      softwareStatements: {
        jwks,
        /** When set, a statement's `iss` must equal it. */
        issuer: e.SOFTWARE_STATEMENT_ISSUER,
        /** Dynamic registration without a software statement is refused. */
        required: e.SOFTWARE_STATEMENT_REQUIRED,
      },
    },
    /** Server processes sharing the port (Node cluster); 1 runs Kluis in this process. */
    workers: e.WORKERS,
    /**
     * Development only: seed a demo person and a demo client, and serve a demo relying party at /demo.
     * DEMO=auto (the default) turns it on for the embedded database with an http issuer, i.e. a plain `npm start`.
     */
    demo: e.DEMO === 'on' || (e.DEMO === 'auto' && !production && e.DATABASE_URL === undefined),
    logLevel: e.LOG_LEVEL,
    /**
     * `json` or `pretty`; `auto`: pretty when the log goes to a terminal, JSON lines elsewhere. Which stream that is
     * (and whether it is a terminal) is the process's, so the logger decides `auto` (log/logger.ts, logFormat).
     */
    logFormat: e.LOG_FORMAT,
    /** What people see: product name, logo, colour, support contact and links, theme, language, time zone. */
    brand: brandFrom(e),
    /** The operator's master secret; undefined only in development. */
    secret: e.KLUIS_SECRET,
    accessTokenTtl: e.ACCESS_TOKEN_TTL,
    /** JWT access tokens cannot be recalled when a consent is withdrawn: they live at most this long. */
    jwtAccessTokenTtl: e.JWT_ACCESS_TOKEN_TTL,
    /** Seconds a deleted account's username stays unavailable. */
    usernameQuarantine: e.USERNAME_QUARANTINE,
    keys: {
      rotationOverlap: e.KEY_ROTATION_OVERLAP,
      retention: e.KEY_RETENTION,
      refreshInterval: e.KEYS_REFRESH_INTERVAL,
    },
    sweep: {
      interval: e.SWEEP_INTERVAL,
      batchSize: e.SWEEP_BATCH_SIZE,
      /** Seconds a person's security activity (with addresses and devices) is kept. */
      securityEventRetention: e.SECURITY_EVENT_RETENTION,
    },
    shutdownTimeout: e.SHUTDOWN_TIMEOUT,
    sca: {
      /** Seconds after the last strong customer authentication before a session must do it again (RTS Art 4(3)(d)). */
      maxAge: e.SCA_MAX_AGE,
      lockout: { threshold: e.LOCKOUT_THRESHOLD, baseSeconds: e.LOCKOUT_DURATION, maxSeconds: e.LOCKOUT_MAX_DURATION },
      ipLimit: { failures: e.LOGIN_IP_LIMIT, windowSeconds: e.LOGIN_IP_WINDOW },
      /** Seconds an activation code from `users add` / `users reset-mfa` stays usable. */
      activationCodeTtl: e.ACTIVATION_CODE_TTL,
      argon2: { memoryKiB: e.ARGON2_MEMORY_KIB, iterations: e.ARGON2_ITERATIONS, parallelism: e.ARGON2_PARALLELISM },
    },
  };
});

export type Config = z.output<typeof configSchema>;
export type LogLevel = Config['logLevel'];
export type LogFormatSetting = Config['logFormat'];
/** Whose software statements (RFC 7591 2.3) dynamic registration accepts. */
export type SoftwareStatementTrust = Config['registration']['softwareStatements'];

/**
 * The only reader of `process.env`. Every setting is parsed, validated and
 * frozen here once; a bad value stops start-up with a message naming the
 * variable, so a typo never turns into a silently different service.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { combineTokenSources, parseTokenEntries, TokenEntryError, type ApiToken } from './auth/tokens.js';
import { parseCidr } from './domain/cidr.js';
import { DEFAULT_DIGEST_MAX_ITEMS } from './domain/payload.js';
import { clashesWithHeraldHeaders } from './domain/validation.js';

export type DatabaseConfig =
  | { readonly provider: 'sqlite'; readonly filePath: string; readonly url: string }
  | { readonly provider: 'postgresql'; readonly url: string };

/** TLS for the gRPC port: PEM contents read at start-up. */
export interface TlsConfig {
  readonly certChain: Buffer;
  readonly privateKey: Buffer;
  /** When set, clients must present a certificate signed by this CA (mutual TLS). */
  readonly clientCa: Buffer | null;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type Role = 'all' | 'api' | 'worker';

export interface Config {
  /** DATABASE_URL; default a SQLite file `./data/herald.db`. */
  readonly database: DatabaseConfig;
  /** GRPC_ADDRESS, host:port; default `0.0.0.0:50051`. */
  readonly grpcAddress: string;
  /** HERALD_ROLE: `all` (default) serves gRPC and runs the worker; `api` and `worker` do one each. */
  readonly role: Role;
  /** HERALD_WORKER=false turns the in-process delivery worker off (default true). */
  readonly workerEnabled: boolean;
  /** WEBHOOK_SECRET: the secret given to new agents instead of a random one (single-secret setups). */
  readonly defaultWebhookSecret: string | undefined;
  /** WEBHOOK_TIMEOUT, seconds (default 10): per-request timeout for agents that set none. */
  readonly webhookTimeoutMs: number;
  /** WEBHOOK_MAX_RETRIES (default 3): retries after the first attempt. */
  readonly webhookMaxRetries: number;
  /** WEBHOOK_RETRY_DELAY, seconds (default 1.0): base of the exponential backoff. */
  readonly webhookRetryDelayMs: number;
  /** HERALD_RETRY_MAX_DELAY_MS (default 3,600,000 = 1 h): cap of the backoff and of Retry-After. */
  readonly retryMaxDelayMs: number;
  /** HERALD_WORKER_CONCURRENCY (default 16): sends in flight per process. */
  readonly workerConcurrency: number;
  /**
   * HERALD_LEASE_MS (default 90,000): how long a claim holds a delivery before another worker may take
   * it over. Must exceed WEBHOOK_TIMEOUT; the worker extends the lease for agents with longer timeouts.
   */
  readonly leaseMs: number;
  /** HERALD_POLL_MS (default 1,000): how often an idle worker looks for due deliveries. */
  readonly pollMs: number;
  /** HERALD_HEALTH_CHECK_MS (default 5,000): how often the database is checked for the health service. */
  readonly healthCheckMs: number;
  /** HERALD_SHUTDOWN_GRACE_MS (default 10,000): how long in-flight calls and sends may finish on SIGTERM. */
  readonly shutdownGraceMs: number;
  /** HERALD_SECRET_GRACE_SECONDS (default 86,400): how long a rotated-out secret keeps signing. */
  readonly secretGraceSeconds: number;
  /** HERALD_ALLOW_HTTP_TARGETS (default false): accept http:// webhook URLs. */
  readonly allowHttpTargets: boolean;
  /** HERALD_ALLOW_PRIVATE_TARGETS (default false): accept loopback/private/link-local webhook hosts. */
  readonly allowPrivateTargets: boolean;
  /**
   * HERALD_ALLOWED_TARGET_CIDRS (default none): comma-separated IPv4/IPv6 ranges (e.g.
   * `10.20.0.0/16,fd00:1::/48`) that webhooks may reach although the outbound guard refuses
   * them, at write time and at every send; narrower than HERALD_ALLOW_PRIVATE_TARGETS.
   */
  readonly allowedTargetCidrs: readonly string[];
  /** HERALD_SIGNATURE_HEADER (default `X-Herald-Signature`): name of the hex HMAC header. */
  readonly signatureHeader: string;
  /**
   * HERALD_TLS_CERT_FILE and HERALD_TLS_KEY_FILE (PEM; both or neither), and
   * optionally HERALD_TLS_CLIENT_CA_FILE to require client certificates.
   * Null serves plaintext (TLS terminated elsewhere, or local use).
   */
  readonly tls: TlsConfig | null;
  /**
   * HERALD_API_TOKENS: comma-separated entries, each a bare `TOKEN` (an
   * operator token over every tenant) or `TENANT:ROLE:TOKEN` (one tenant,
   * ROLE `read`, `write` or `admin`); kept as digests. Default none.
   */
  readonly apiTokens: readonly ApiToken[];
  /**
   * HERALD_API_TOKENS_FILE: a file of more entries, one a line (`#` comments
   * and blank lines ignored), read at start-up and re-read on SIGHUP; `tokens`
   * are its entries as read at start-up. Default none. When either variable
   * is set every Herald RPC needs a token; with neither the API is open.
   */
  readonly apiTokensFile: { readonly path: string; readonly tokens: readonly ApiToken[] } | null;
  /** HERALD_LOG_LEVEL (default `info`). */
  readonly logLevel: LogLevel;
  /** HERALD_DB_POOL_SIZE (default 10): PostgreSQL connections per process. */
  readonly dbPoolSize: number;
  /**
   * HERALD_SQLITE_SYNCHRONOUS (default `full`): `full` makes every acknowledged
   * write survive a power loss; `normal` is faster and still survives a crash of the process.
   */
  readonly sqliteSynchronous: 'FULL' | 'NORMAL';
  /** HERALD_METRICS_ADDRESS, host:port (default: off): where `GET /metrics` serves Prometheus metrics. */
  readonly metricsAddress: string | null;
  /**
   * HERALD_RETENTION_DAYS (default 30; 0 keeps everything): notifications and finished deliveries
   * (with their attempts) older than this many days are deleted by processes that run a worker.
   */
  readonly retentionDays: number;
  /** HERALD_RETENTION_SWEEP_MS (default 600,000 = 10 min): time between two retention sweeps. */
  readonly retentionSweepMs: number;
  /** Safe and fair delivery (issue #8): see {@link DeliveryLimits}. */
  readonly delivery: DeliveryLimits;
  /** Encryption of secrets at rest (issue #9): see {@link SecretKeys}; null stores them in plain text. */
  readonly secretKeys: SecretKeys | null;
  /** The operator console (issue #12): see {@link ConsoleConfig}; null when HERALD_CONSOLE_ADDRESS is not set. */
  readonly console: ConsoleConfig | null;
  /**
   * HERALD_DIGEST_MAX_ITEMS (default 100, 1 to 1,000): notifications in one digest webhook; a full
   * digest is closed and the window's next notification opens another, so bodies stay bounded.
   */
  readonly digestMaxItems: number;
}

/** The browser console beside the gRPC API (src/console/). */
export interface ConsoleConfig {
  /** HERALD_CONSOLE_ADDRESS, host:port (default: off), e.g. `127.0.0.1:8080`. Needs API tokens: the console signs in with one. */
  readonly address: string;
  /** HERALD_CONSOLE_SESSION_SECONDS (default 3,600 = 1 h): a console session ends after this long without a request. */
  readonly sessionSeconds: number;
}

function consoleConfig(env: Env, tokensConfigured: boolean): ConsoleConfig | null {
  const address = optionalAddress(env, 'HERALD_CONSOLE_ADDRESS', '127.0.0.1:8080');
  const sessionSeconds = integer(env, 'HERALD_CONSOLE_SESSION_SECONDS', 3_600, 60, 7 * 86_400);
  if (address === null) return null;
  // Without tokens every caller is an operator: a console would hand every
  // tenant to any web page the operator's browser opens (see README, Console).
  if (!tokensConfigured) {
    throw new ConfigError('HERALD_CONSOLE_ADDRESS', 'the console signs in with an API token: set HERALD_API_TOKENS or HERALD_API_TOKENS_FILE as well');
  }
  return Object.freeze({ address, sessionSeconds });
}

/** The keys that encrypt webhook secrets and webhook_headers values in the database. */
export interface SecretKeys {
  /** HERALD_SECRET_KEY (default none): 32 random bytes in base64; every value written is encrypted with it. */
  readonly current: Buffer;
  /** HERALD_SECRET_KEY_PREVIOUS (default none): the key before a rotation; values it encrypted still decrypt. */
  readonly previous: Buffer | null;
}

function secretKey(env: Env, name: string): Buffer | null {
  const raw = read(env, name);
  if (raw === undefined) return null;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) throw new ConfigError(name, 'is not base64; make a key with: openssl rand -base64 32');
  const key = Buffer.from(raw, 'base64');
  if (key.length !== 32) throw new ConfigError(name, `must be the base64 of exactly 32 bytes, got ${key.length} bytes; make a key with: openssl rand -base64 32`);
  return key;
}

function secretKeys(env: Env): SecretKeys | null {
  const current = secretKey(env, 'HERALD_SECRET_KEY');
  const previous = secretKey(env, 'HERALD_SECRET_KEY_PREVIOUS');
  if (current === null) {
    if (previous !== null) throw new ConfigError('HERALD_SECRET_KEY_PREVIOUS', 'needs HERALD_SECRET_KEY (the new key) as well');
    return null;
  }
  if (previous !== null && previous.equals(current)) throw new ConfigError('HERALD_SECRET_KEY_PREVIOUS', 'is the same key as HERALD_SECRET_KEY');
  return Object.freeze({ current, previous });
}

/** How far one agent or one client may load the process. */
export interface DeliveryLimits {
  /**
   * HERALD_AGENT_MAX_IN_FLIGHT (default 4): deliveries of one agent in flight at once, across
   * the process and, on PostgreSQL, across replicas; the other worker slots serve other agents.
   */
  readonly agentMaxInFlight: number;
  /**
   * HERALD_DISABLE_AFTER_FAILURES (default 50; 0 = never): deliveries of one agent ending FAILED
   * in a row after which its webhook is turned off; a success resets the count.
   */
  readonly disableAfterFailures: number;
  /** HERALD_RETRY_MIN_DELAY_MS (default 1,000, or HERALD_RETRY_MAX_DELAY_MS when that is lower): floor of `Retry-After` and of retries after a 429 or a timeout, ms. */
  readonly retryMinDelayMs: number;
  /** HERALD_WATCH_MAX_STREAMS (default 100): WatchDeliveries streams open at once in this process. */
  readonly watchMaxStreams: number;
}

function deliveryLimits(env: Env, retryMaxDelayMs: number): DeliveryLimits {
  // The default floor yields to a lower cap; a floor set above the cap is a mistake.
  const retryMinDelayMs = integer(env, 'HERALD_RETRY_MIN_DELAY_MS', Math.min(1_000, retryMaxDelayMs), 0, 3_600_000);
  if (retryMinDelayMs > retryMaxDelayMs) {
    throw new ConfigError('HERALD_RETRY_MIN_DELAY_MS', `must not exceed HERALD_RETRY_MAX_DELAY_MS (${retryMaxDelayMs} ms), got ${retryMinDelayMs}`);
  }
  return Object.freeze({
    agentMaxInFlight: integer(env, 'HERALD_AGENT_MAX_IN_FLIGHT', 4, 1, 1_000),
    disableAfterFailures: integer(env, 'HERALD_DISABLE_AFTER_FAILURES', 50, 0, 1_000_000),
    retryMinDelayMs,
    watchMaxStreams: integer(env, 'HERALD_WATCH_MAX_STREAMS', 100, 1, 100_000),
  });
}

/** A configuration problem, named by variable; main prints it and exits 2. */
export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  return trimmed === '' ? undefined : trimmed;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** Seconds given as a decimal (the seed's units), returned as whole milliseconds. */
function secondsAsMs(env: Env, name: string, fallbackSeconds: number, minSeconds: number, maxSeconds: number): number {
  const raw = read(env, name);
  if (raw === undefined) return Math.round(fallbackSeconds * 1000);
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new ConfigError(name, `expected a number of seconds such as 1.5, got "${raw}"`);
  const value = Number(raw);
  if (value < minSeconds || value > maxSeconds) {
    throw new ConfigError(name, `must be between ${minSeconds} and ${maxSeconds} seconds, got ${value}`);
  }
  return Math.round(value * 1000);
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
  if (['0', 'false', 'no', 'off'].includes(lower)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const found = allowed.find((v) => v === raw.toLowerCase());
  if (found === undefined) throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  return found;
}

/** Parses DATABASE_URL: unset → `./data/herald.db`; `file:` → SQLite; `postgres(ql)://` → PostgreSQL. */
export function parseDatabaseUrl(raw: string | undefined, cwd: string): DatabaseConfig {
  const url = raw?.trim() || 'file:./data/herald.db';
  if (url.startsWith('file:')) {
    const path = url.slice('file:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '' || path.includes('?')) {
      throw new ConfigError('DATABASE_URL', `expected file:<path to the SQLite file>, got "${url}"`);
    }
    const filePath = isAbsolute(path) ? path : resolve(cwd, path);
    return Object.freeze({ provider: 'sqlite', filePath, url: `file:${filePath}` });
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    try {
      new URL(url);
    } catch {
      throw new ConfigError('DATABASE_URL', 'is not a valid postgresql:// URL');
    }
    return Object.freeze({ provider: 'postgresql', url });
  }
  // The URL may hold a password: name the scheme only.
  const scheme = url.split(':')[0] ?? '';
  throw new ConfigError('DATABASE_URL', `unsupported scheme "${scheme}:"; use file:<path> (SQLite) or postgresql://`);
}

/** An optional listening address, host:port; unset means the listener is off. */
function optionalAddress(env: Env, name: string, example: string): string | null {
  const raw = read(env, name);
  if (raw === undefined) return null;
  const match = /^(.+):(\d{1,5})$/.exec(raw);
  if (!match || Number(match[2]) > 65535) throw new ConfigError(name, `expected host:port such as ${example}, got "${raw.slice(0, 100)}"`);
  return raw;
}

function grpcAddress(env: Env): string {
  const raw = read(env, 'GRPC_ADDRESS') ?? '0.0.0.0:50051';
  const match = /^(.+):(\d{1,5})$/.exec(raw);
  if (!match || Number(match[2]) > 65535) {
    throw new ConfigError('GRPC_ADDRESS', `expected host:port such as 0.0.0.0:50051, got "${raw}"`);
  }
  return raw;
}

function webhookSecret(env: Env): string | undefined {
  const raw = read(env, 'WEBHOOK_SECRET');
  if (raw === undefined) return undefined;
  if (raw.length < 8) throw new ConfigError('WEBHOOK_SECRET', 'must be at least 8 characters');
  if (raw.startsWith('whsec_')) {
    const key = Buffer.from(raw.slice(6), 'base64');
    if (key.length < 24 || key.toString('base64').replace(/=+$/, '') !== raw.slice(6).replace(/=+$/, '')) {
      throw new ConfigError('WEBHOOK_SECRET', 'a whsec_ secret must be followed by the base64 of at least 24 bytes');
    }
  }
  return raw;
}

function headerName(env: Env): string {
  const raw = read(env, 'HERALD_SIGNATURE_HEADER') ?? 'X-Herald-Signature';
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/.test(raw)) {
    throw new ConfigError('HERALD_SIGNATURE_HEADER', `"${raw}" is not a valid HTTP header name`);
  }
  if (clashesWithHeraldHeaders(raw)) {
    throw new ConfigError('HERALD_SIGNATURE_HEADER', `"${raw}" would clash with a header Herald already sends or one that frames the request`);
  }
  return raw;
}

function pemFile(env: Env, name: string, marker: RegExp): Buffer {
  const path = read(env, name)!;
  let contents: Buffer;
  try {
    contents = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(name, `cannot read "${path}" (${code})`);
  }
  if (!marker.test(contents.toString('latin1'))) throw new ConfigError(name, `"${path}" holds no PEM ${marker.source.includes('KEY') ? 'private key' : 'certificate'}`);
  return contents;
}

function tls(env: Env): TlsConfig | null {
  const cert = read(env, 'HERALD_TLS_CERT_FILE');
  const key = read(env, 'HERALD_TLS_KEY_FILE');
  const ca = read(env, 'HERALD_TLS_CLIENT_CA_FILE');
  if (cert === undefined && key === undefined) {
    if (ca !== undefined) throw new ConfigError('HERALD_TLS_CLIENT_CA_FILE', 'needs HERALD_TLS_CERT_FILE and HERALD_TLS_KEY_FILE');
    return null;
  }
  if (cert === undefined) throw new ConfigError('HERALD_TLS_CERT_FILE', 'is required when HERALD_TLS_KEY_FILE is set');
  if (key === undefined) throw new ConfigError('HERALD_TLS_KEY_FILE', 'is required when HERALD_TLS_CERT_FILE is set');
  return Object.freeze({
    certChain: pemFile(env, 'HERALD_TLS_CERT_FILE', /-----BEGIN CERTIFICATE-----/),
    privateKey: pemFile(env, 'HERALD_TLS_KEY_FILE', /-----BEGIN [A-Z ]*PRIVATE KEY-----/),
    clientCa: ca === undefined ? null : pemFile(env, 'HERALD_TLS_CLIENT_CA_FILE', /-----BEGIN CERTIFICATE-----/),
  });
}

function apiTokens(env: Env): ApiToken[] {
  const raw = read(env, 'HERALD_API_TOKENS');
  if (raw === undefined) return [];
  const entries = raw.split(',').map((t) => t.trim()).filter((t) => t !== '');
  // Set but empty (",") must not quietly mean "no authentication".
  if (entries.length === 0) throw new ConfigError('HERALD_API_TOKENS', 'is set but holds no token; list tokens separated by commas, or unset it to run without authentication');
  try {
    return parseTokenEntries(entries, (i) => `entry ${i + 1}`);
  } catch (err) {
    if (err instanceof TokenEntryError) throw new ConfigError('HERALD_API_TOKENS', err.message);
    throw err;
  }
}

/**
 * Reads and parses the token file of HERALD_API_TOKENS_FILE (at start-up and
 * on SIGHUP). Throws ConfigError naming the variable and the line; never
 * quotes a token.
 */
export function readApiTokensFile(path: string): ApiToken[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError('HERALD_API_TOKENS_FILE', `cannot read "${path}" (${code})`);
  }
  const lines = text.split(/\r?\n/).map((line, i) => ({ entry: line.trim(), line: i + 1 })).filter((l) => l.entry !== '' && !l.entry.startsWith('#'));
  try {
    return parseTokenEntries(lines.map((l) => l.entry), (i) => `"${path}" line ${lines[i]!.line}`);
  } catch (err) {
    if (err instanceof TokenEntryError) throw new ConfigError('HERALD_API_TOKENS_FILE', err.message);
    throw err;
  }
}

function apiTokensFile(env: Env, cwd: string, fromEnv: readonly ApiToken[]): Config['apiTokensFile'] {
  const raw = read(env, 'HERALD_API_TOKENS_FILE');
  if (raw === undefined) return null;
  const path = isAbsolute(raw) ? raw : resolve(cwd, raw);
  const tokens = readApiTokensFile(path);
  try {
    combineTokenSources(fromEnv, tokens);
  } catch (err) {
    if (err instanceof TokenEntryError) throw new ConfigError('HERALD_API_TOKENS_FILE', err.message);
    throw err;
  }
  return { path, tokens };
}

function allowedTargetCidrs(env: Env): string[] {
  const raw = read(env, 'HERALD_ALLOWED_TARGET_CIDRS');
  if (raw === undefined) return [];
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const e of entries) {
    try {
      parseCidr(e);
    } catch (err) {
      throw new ConfigError('HERALD_ALLOWED_TARGET_CIDRS', (err as Error).message);
    }
  }
  return entries;
}

/** Reads and validates the whole configuration. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const webhookTimeoutMs = secondsAsMs(env, 'WEBHOOK_TIMEOUT', 10, 0.001, 60);
  const leaseMs = integer(env, 'HERALD_LEASE_MS', 90_000, 1_000, 3_600_000);
  if (leaseMs < webhookTimeoutMs + 2_000) {
    throw new ConfigError('HERALD_LEASE_MS', `must be at least WEBHOOK_TIMEOUT (${webhookTimeoutMs} ms) + 2000 ms, or a slow send would be taken over mid-flight`);
  }
  const role = oneOf<Role>(env, 'HERALD_ROLE', ['all', 'api', 'worker'], 'all');
  const retryMaxDelayMs = integer(env, 'HERALD_RETRY_MAX_DELAY_MS', 3_600_000, 0, 7 * 86_400_000);
  const envTokens = apiTokens(env);
  const config: Config = {
    database: parseDatabaseUrl(env.DATABASE_URL, cwd),
    grpcAddress: grpcAddress(env),
    role,
    workerEnabled: boolean(env, 'HERALD_WORKER', true) && role !== 'api',
    defaultWebhookSecret: webhookSecret(env),
    webhookTimeoutMs,
    webhookMaxRetries: integer(env, 'WEBHOOK_MAX_RETRIES', 3, 0, 100),
    webhookRetryDelayMs: secondsAsMs(env, 'WEBHOOK_RETRY_DELAY', 1.0, 0, 86_400),
    retryMaxDelayMs,
    workerConcurrency: integer(env, 'HERALD_WORKER_CONCURRENCY', 16, 1, 1_000),
    leaseMs,
    pollMs: integer(env, 'HERALD_POLL_MS', 1_000, 10, 600_000),
    shutdownGraceMs: integer(env, 'HERALD_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    healthCheckMs: integer(env, 'HERALD_HEALTH_CHECK_MS', 5_000, 50, 600_000),
    secretGraceSeconds: integer(env, 'HERALD_SECRET_GRACE_SECONDS', 86_400, 0, 7 * 86_400),
    allowHttpTargets: boolean(env, 'HERALD_ALLOW_HTTP_TARGETS', false),
    allowPrivateTargets: boolean(env, 'HERALD_ALLOW_PRIVATE_TARGETS', false),
    allowedTargetCidrs: allowedTargetCidrs(env),
    signatureHeader: headerName(env),
    tls: tls(env),
    apiTokens: envTokens,
    apiTokensFile: apiTokensFile(env, cwd, envTokens),
    dbPoolSize: integer(env, 'HERALD_DB_POOL_SIZE', 10, 1, 500),
    sqliteSynchronous: oneOf(env, 'HERALD_SQLITE_SYNCHRONOUS', ['full', 'normal'] as const, 'full') === 'full' ? 'FULL' : 'NORMAL',
    logLevel: oneOf<LogLevel>(env, 'HERALD_LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    metricsAddress: optionalAddress(env, 'HERALD_METRICS_ADDRESS', '127.0.0.1:9464'),
    retentionDays: integer(env, 'HERALD_RETENTION_DAYS', 30, 0, 36_500),
    retentionSweepMs: integer(env, 'HERALD_RETENTION_SWEEP_MS', 600_000, 1_000, 86_400_000),
    delivery: deliveryLimits(env, retryMaxDelayMs),
    secretKeys: secretKeys(env),
    console: consoleConfig(env, envTokens.length > 0 || read(env, 'HERALD_API_TOKENS_FILE') !== undefined),
    digestMaxItems: integer(env, 'HERALD_DIGEST_MAX_ITEMS', DEFAULT_DIGEST_MAX_ITEMS, 1, 1_000),
  };
  return Object.freeze(config);
}

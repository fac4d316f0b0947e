/**
 * The only reader of `process.env`. One table, {@link VARIABLES}, lists every
 * setting with its default and its parser; {@link loadConfig} reads them all
 * once, checks the rules between them, and compiles the result into the
 * options each part of Herald is built with (the store, the dispatcher, the
 * worker, the gRPC server…), frozen. A bad value stops start-up with a
 * message naming the variable, so a typo never turns into a silently
 * different service. The table of docs/configuration.md is checked against
 * {@link VARIABLES}, defaults included (test/unit/config-docs.test.ts).
 *
 * The shapes here are what the consumers' constructors take, declared here
 * rather than imported from them (config.ts sits below delivery/, storage/,
 * grpc/…, which import its types); App adds what is not configuration:
 * clocks, randomness, the resolver, the logger, the build's User-Agent.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { combineTokenSources, parseTokenEntries, TokenEntryError, type ApiToken } from './auth/tokens.js';
import type { RetryPolicy } from './domain/backoff.js';
import { parseCidr } from './domain/cidr.js';
import { DEFAULT_DIGEST_MAX_ITEMS } from './domain/payload.js';
import { clashesWithHeraldHeaders } from './domain/validation.js';

export type DatabaseConfig =
  | { readonly provider: 'sqlite'; readonly filePath: string; readonly url: string }
  | { readonly provider: 'postgresql'; readonly url: string };

/** TLS for the gRPC port (and the console): PEM contents read at start-up. */
export interface TlsConfig {
  readonly certChain: Buffer;
  readonly privateKey: Buffer;
  /** When set, clients must present a certificate signed by this CA (mutual TLS). */
  readonly clientCa: Buffer | null;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** HERALD_ROLE: what this process runs (not to be confused with a token's role, auth/roles.ts). */
export type ProcessRole = 'all' | 'api' | 'worker';

/**
 * How long anything may wait for the database, ms. The defaults fail a
 * request well inside a client's usual 5 s deadline, with a status that says
 * to retry, instead of letting it run out (docs/guarantees.md).
 */
export interface DatabaseTimeouts {
  /** HERALD_DB_CONNECT_TIMEOUT_MS: opening one PostgreSQL connection (TCP and the start-up answer), at start and on every reconnect. */
  readonly connectTimeoutMs: number;
  /** HERALD_DB_ACQUIRE_TIMEOUT_MS: waiting for a pooled connection, and for a transaction to begin. */
  readonly acquireTimeoutMs: number;
  /**
   * HERALD_DB_STATEMENT_TIMEOUT_MS: one statement; PostgreSQL's `statement_timeout`, with a
   * client-side bound a little later for a server that does not answer at all; SQLite's busy wait.
   */
  readonly statementTimeoutMs: number;
  /** HERALD_DB_TRANSACTION_TIMEOUT_MS: one transaction, from its first statement to its commit. */
  readonly transactionTimeoutMs: number;
}

/** Store.open's options (storage/database.ts). */
export interface StoreConfig {
  /** HERALD_DB_POOL_SIZE: PostgreSQL connections per process. */
  readonly poolSize: number;
  /** HERALD_SQLITE_SYNCHRONOUS: FULL survives power loss; NORMAL is faster and survives process crashes. */
  readonly sqliteSynchronous: 'FULL' | 'NORMAL';
  readonly timeouts: DatabaseTimeouts;
  /**
   * HERALD_SQLITE_MAX_MB, as bytes: the size the SQLite file may grow to (`PRAGMA max_page_count`);
   * past it writes answer RESOURCE_EXHAUSTED as on a full disk while reads go on. Null: no cap.
   */
  readonly sqliteMaxBytes: number | null;
  /** HERALD_SQLITE_THREAD: SQLite's connection on a worker thread instead of the main thread. */
  readonly sqliteThread: boolean;
}

/** Start-up's wait for the database (storage/database-probe.ts, waitForDatabase). */
export interface StartupConfig {
  /** HERALD_DB_CONNECT_TIMEOUT_MS: one attempt to connect. */
  readonly connectTimeoutMs: number;
  /** HERALD_DB_STARTUP_TIMEOUT_MS: how long start-up waits for the database to answer before it exits with status 1. */
  readonly startupTimeoutMs: number;
}

/** HealthMonitor's options (health-monitor.ts). */
export interface HealthConfig {
  /** HERALD_HEALTH_CHECK_MS: time between two checks of the database. */
  readonly intervalMs: number;
  /** HERALD_HEALTH_CHECK_TIMEOUT_MS: a check that takes longer has failed. */
  readonly checkTimeoutMs: number;
  /** HERALD_HEALTH_FAILED_WRITES: writes failing in a row with a database fault that turn health NOT_SERVING (a full disk does at once). */
  readonly failedWrites: number;
  /** HERALD_SQLITE_MAX_MB as bytes (the write check looks for room below it); null: no cap. */
  readonly sqliteMaxBytes: number | null;
  /** HERALD_DB_CONNECT_TIMEOUT_MS: the check's own connection. */
  readonly connectTimeoutMs: number;
}

/** The keys that encrypt webhook secrets and webhook_headers values in the database (SecretBox). */
export interface SecretKeys {
  /** HERALD_SECRET_KEY: 32 bytes; every value written is encrypted with it. */
  readonly current: Buffer;
  /** HERALD_SECRET_KEY_PREVIOUS: the key before a rotation; values it encrypted still decrypt. */
  readonly previous: Buffer | null;
}

/** Who may call: the TokenRegistry's tokens, and what App.reloadApiTokens re-reads. */
export interface AuthConfig {
  /** Every token, from HERALD_API_TOKENS then HERALD_API_TOKENS_FILE (as read at start-up). */
  readonly tokens: readonly ApiToken[];
  /** Whether every Herald RPC needs a token: either variable is set (even to a file holding none). */
  readonly required: boolean;
  /** The tokens of HERALD_API_TOKENS alone: they stay when the file is reloaded. */
  readonly fromEnv: readonly ApiToken[];
  /** HERALD_API_TOKENS_FILE, resolved against the working directory, and its tokens as read at start-up; or null. */
  readonly file: { readonly path: string; readonly tokens: readonly ApiToken[] } | null;
}

/** TargetGuard's options (delivery/target-guard.ts), without the resolver. */
export interface TargetGuardConfig {
  /** HERALD_ALLOW_HTTP_TARGETS. */
  readonly allowHttp: boolean;
  /** HERALD_ALLOW_PRIVATE_TARGETS. */
  readonly allowPrivate: boolean;
  /** HERALD_ALLOWED_TARGET_CIDRS, each checked by parseCidr. */
  readonly allowedCidrs: readonly string[];
}

/** Dispatcher's options (delivery/dispatcher.ts), without clock, randomness and User-Agent. */
export interface DispatcherConfig {
  /** WEBHOOK_RETRY_DELAY, HERALD_RETRY_MAX_DELAY_MS, HERALD_RETRY_MIN_DELAY_MS, WEBHOOK_MAX_RETRIES; jitter ±20 %. */
  readonly retryPolicy: Readonly<RetryPolicy>;
  /** WEBHOOK_TIMEOUT in ms: the timeout of agents that set none. */
  readonly defaultTimeoutMs: number;
  /** HERALD_SIGNATURE_HEADER. */
  readonly signatureHeader: string;
  /** HERALD_LEASE_MS. */
  readonly leaseMs: number;
  /** HERALD_DISABLE_AFTER_FAILURES; 0: never. */
  readonly disableAfterFailures: number;
}

/** DeliveryWorker's options (delivery/worker.ts), without the clock. */
export interface WorkerConfig {
  /** HERALD_WORKER_CONCURRENCY: sends in flight at once. */
  readonly concurrency: number;
  /** HERALD_AGENT_MAX_IN_FLIGHT: sends to one endpoint in flight at once, across every process (the name is 0.2's, when an agent had one). */
  readonly agentMaxInFlight: number;
  /** HERALD_LEASE_MS: lease length of a claim. */
  readonly leaseMs: number;
  /** HERALD_POLL_MS: longest idle wait between looks at the queue. */
  readonly pollMs: number;
}

/** The gRPC server (grpc/server.ts): where it listens and what it allows. */
export interface GrpcConfig {
  /** GRPC_ADDRESS, host:port. */
  readonly address: string;
  /** HERALD_TLS_*; null serves plaintext. */
  readonly tls: TlsConfig | null;
  /** HERALD_WATCH_MAX_STREAMS: WatchDeliveries streams open at once. */
  readonly maxWatchStreams: number;
  /** HERALD_WATCH_MAX_STREAMS_PER_TENANT: WatchDeliveries streams of one tenant open at once (at most maxWatchStreams). */
  readonly maxWatchStreamsPerTenant: number;
  /** HERALD_TENANT_MAX_IN_FLIGHT: unary calls of one tenant in progress at once while another tenant is active. */
  readonly tenantMaxInFlight: number;
}

/** The browser console beside the gRPC API (src/console/). */
export interface ConsoleConfig {
  /** HERALD_CONSOLE_ADDRESS, host:port, e.g. `127.0.0.1:8080`. */
  readonly address: string;
  /** HERALD_CONSOLE_SESSION_SECONDS: a console session ends after this long without a request. */
  readonly sessionSeconds: number;
  /** The gRPC port's certificate (HERALD_TLS_*): the console speaks TLS when it is set. */
  readonly tls: TlsConfig | null;
  /** The agents' preference centre served beside the console (src/portal/). */
  readonly portal: PortalConfig;
}

/** The portal (src/portal/) and the links PortalService makes. */
export interface PortalConfig {
  /** HERALD_PORTAL_BASE_URL: the public origin links start with; null: the console's own address. */
  readonly baseUrl: string | null;
  /** HERALD_PORTAL_FRAME_ANCESTORS: origins whose pages may frame the portal; empty: none may. */
  readonly frameAncestors: readonly string[];
}

/** RetentionSweeper's options (services/retention.ts). */
export interface RetentionConfig {
  /** HERALD_RETENTION_DAYS (more than 0 here). */
  readonly retentionDays: number;
  /** HERALD_RETENTION_SWEEP_MS. */
  readonly sweepMs: number;
}

/** PreferencesService's options (services/preferences-service.ts), without the guard and the clock. */
export interface PreferencesConfig {
  /** HERALD_SIGNATURE_HEADER. */
  readonly signatureHeader: string;
  /** WEBHOOK_SECRET. */
  readonly defaultWebhookSecret: string | undefined;
  /** HERALD_SECRET_GRACE_SECONDS. */
  readonly secretGraceSeconds: number;
}

/** EndpointService's options (services/endpoint-service.ts), without the guard and the clock. */
export interface EndpointsConfig {
  /** HERALD_SIGNATURE_HEADER. */
  readonly signatureHeader: string;
  /** HERALD_SECRET_GRACE_SECONDS. */
  readonly secretGraceSeconds: number;
  /** HERALD_MAX_ENDPOINTS_PER_AGENT (default 20). */
  readonly maxEndpointsPerAgent: number;
}

/** Where spans go: an OTLP/HTTP collector, or stdout (OTEL_TRACES_EXPORTER=console, for a look by hand). */
export type TraceExporterConfig =
  | {
      readonly kind: 'otlp';
      /** The traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. */
      readonly url: string;
      /** OTEL_EXPORTER_OTLP_PROTOCOL. */
      readonly protocol: 'http/protobuf' | 'http/json';
      /** OTEL_EXPORTER_OTLP_HEADERS (a collector's token, often): never logged. */
      readonly headers: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'console' };

/** Which traces are kept: OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG. */
export interface TraceSamplerConfig {
  readonly kind: 'always_on' | 'always_off' | 'traceidratio';
  /** The `parentbased_` samplers: a caller's sampled flag decides, the kind decides for root spans only. */
  readonly parentBased: boolean;
  /** The share of root traces kept by `traceidratio`, 0 to 1. */
  readonly ratio: number;
}

/**
 * OpenTelemetry traces (src/telemetry/), set only by the standard OTEL_*
 * variables; Config.tracing is null (off, and no SDK module is loaded) unless
 * OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_TRACES_EXPORTER asks for it.
 */
export interface TracingConfig {
  /** OTEL_SERVICE_NAME. */
  readonly serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES: more attributes of every span's resource (e.g. deployment.environment.name). */
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly exporter: TraceExporterConfig;
  readonly sampler: TraceSamplerConfig;
}

/**
 * Herald's configuration, compiled per consumer: each field is what one
 * constructor takes (App adds clocks, randomness and the logger). A part this
 * process does not run is null.
 */
export interface Config {
  /** HERALD_ROLE. */
  readonly role: ProcessRole;
  /** HERALD_LOG_LEVEL. */
  readonly logLevel: LogLevel;
  /** DATABASE_URL: where migrations apply and the store opens. */
  readonly database: DatabaseConfig;
  readonly store: StoreConfig;
  /** Null stores secrets in plain text. */
  readonly secretKeys: SecretKeys | null;
  readonly auth: AuthConfig;
  readonly targetGuard: TargetGuardConfig;
  readonly dispatcher: DispatcherConfig;
  /** Null when HERALD_WORKER=false or HERALD_ROLE=api. */
  readonly worker: WorkerConfig | null;
  /** Null when HERALD_ROLE=worker (no gRPC port, no health service). */
  readonly grpc: GrpcConfig | null;
  /** Health: what the gRPC health service answers, and whether the worker claims. */
  readonly health: HealthConfig;
  /** Start-up's bounded wait for the database. */
  readonly startup: StartupConfig;
  /** Null when HERALD_CONSOLE_ADDRESS is not set. */
  readonly console: ConsoleConfig | null;
  /** HERALD_PORTAL_BASE_URL, for PortalService's links in any process (the portal may be served by another replica). */
  readonly portalBaseUrl: string | null;
  /** HERALD_METRICS_ADDRESS; null when not set. */
  readonly metrics: { readonly address: string } | null;
  /** Null without a worker, or with HERALD_RETENTION_DAYS=0 (keep everything). */
  readonly retention: RetentionConfig | null;
  readonly preferences: PreferencesConfig;
  readonly endpoints: EndpointsConfig;
  /** NotificationService's options: HERALD_DIGEST_MAX_ITEMS. */
  readonly notifications: { readonly digestMaxItems: number };
  /** DeliveryService's options (without the clock): HERALD_LEASE_MS. */
  readonly deliveries: { readonly leaseMs: number };
  /** HERALD_SHUTDOWN_GRACE_MS: how long in-flight calls and sends may finish on SIGTERM. */
  readonly shutdownGraceMs: number;
  /** The OTEL_* variables; null when tracing is off. */
  readonly tracing: TracingConfig | null;
}

/** A configuration problem, named by variable; main prints it and exits 2. */
export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Turns a set value (trimmed, never empty) into what Herald uses; throws ConfigError naming `name`. */
type Parser<T> = (raw: string, name: string, cwd: string) => T;

/** One environment variable. */
export interface Variable<T> {
  /**
   * The default, spelled as one would set the variable (docs/configuration.md's default
   * column shows it in backticks); null when unset means "none" or "off".
   * A default goes through the parser like a set value.
   */
  readonly default: string | null;
  /** One line on what it sets; docs/configuration.md says more. */
  readonly doc: string;
  /** The value for `raw` (undefined: not set). */
  readonly read: (raw: string | undefined, name: string, cwd: string) => T;
}

function withDefault<T>(fallback: string, parse: Parser<T>, doc: string): Variable<T> {
  return { default: fallback, doc, read: (raw, name, cwd) => parse(raw ?? fallback, name, cwd) };
}

function optional<T>(parse: Parser<T>, doc: string): Variable<T | null> {
  return { default: null, doc, read: (raw, name, cwd) => (raw === undefined ? null : parse(raw, name, cwd)) };
}

// ---------------------------------------------------------------------------
// Parsers
// ---------------------------------------------------------------------------

function wholeNumber(min: number, max: number): Parser<number> {
  return (raw, name) => {
    if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
    const value = Number(raw);
    if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
    return value;
  };
}

/** Seconds given as a decimal (the seed's units), returned as whole milliseconds. */
function secondsAsMs(minSeconds: number, maxSeconds: number): Parser<number> {
  return (raw, name) => {
    if (!/^\d+(\.\d+)?$/.test(raw)) throw new ConfigError(name, `expected a number of seconds such as 1.5, got "${raw}"`);
    const value = Number(raw);
    if (value < minSeconds || value > maxSeconds) throw new ConfigError(name, `must be between ${minSeconds} and ${maxSeconds} seconds, got ${value}`);
    return Math.round(value * 1000);
  };
}

const flag: Parser<boolean> = (raw, name) => {
  const lower = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
  if (['0', 'false', 'no', 'off'].includes(lower)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
};

function oneOf<T extends string>(allowed: readonly T[]): Parser<T> {
  return (raw, name) => {
    const found = allowed.find((v) => v === raw.toLowerCase());
    if (found === undefined) throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
    return found;
  };
}

/** A listening address, host:port. */
function hostPort(example: string): Parser<string> {
  return (raw, name) => {
    const match = /^(.+):(\d{1,5})$/.exec(raw);
    if (!match || Number(match[2]) > 65535) throw new ConfigError(name, `expected host:port such as ${example}, got "${raw.slice(0, 100)}"`);
    return raw;
  };
}

/** An origin (scheme, host, optional port) with nothing after it, as links are built on it. */
function originOf(raw: string, name: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `expected an origin such as https://herald.example.com, got "${raw.slice(0, 100)}"`);
  }
  // The URL parser takes `*` in a host; a CSP source would read it as a wildcard, which the variables do not offer.
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname.includes('*') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')) {
    throw new ConfigError(name, `expected an http(s) origin without path, query or credentials such as https://herald.example.com, got "${raw.slice(0, 100)}"`);
  }
  return url.origin;
}

const publicOrigin: Parser<string> = (raw, name) => originOf(raw.replace(/\/$/, ''), name);

/** Space-separated origins (a CSP source list of exact origins only: no wildcards, no keywords). */
const originList: Parser<string[]> = (raw, name) => raw.split(/\s+/).filter((o) => o !== '').map((o) => originOf(o, name));

/** A file name, read later (after the rules between variables are checked). */
const fileName: Parser<string> = (raw) => raw;

const fileNameInCwd: Parser<string> = (raw, _name, cwd) => (isAbsolute(raw) ? raw : resolve(cwd, raw));

const DEFAULT_DATABASE_URL = 'file:./data/herald.db';

/** Parses DATABASE_URL: unset → `./data/herald.db`; `file:` → SQLite; `postgres(ql)://` → PostgreSQL. */
export function parseDatabaseUrl(raw: string | undefined, cwd: string): DatabaseConfig {
  const url = raw?.trim() || DEFAULT_DATABASE_URL;
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

const webhookSecret: Parser<string> = (raw, name) => {
  if (raw.length < 8) throw new ConfigError(name, 'must be at least 8 characters');
  if (raw.startsWith('whsec_')) {
    const key = Buffer.from(raw.slice(6), 'base64');
    if (key.length < 24 || key.toString('base64').replace(/=+$/, '') !== raw.slice(6).replace(/=+$/, '')) {
      throw new ConfigError(name, 'a whsec_ secret must be followed by the base64 of at least 24 bytes');
    }
  }
  return raw;
};

const headerName: Parser<string> = (raw, name) => {
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/.test(raw)) throw new ConfigError(name, `"${raw}" is not a valid HTTP header name`);
  if (clashesWithHeraldHeaders(raw)) throw new ConfigError(name, `"${raw}" would clash with a header Herald already sends or one that frames the request`);
  return raw;
};

const tokenEntries: Parser<ApiToken[]> = (raw, name) => {
  const entries = raw.split(',').map((t) => t.trim()).filter((t) => t !== '');
  // Set but empty (",") must not quietly mean "no authentication".
  if (entries.length === 0) throw new ConfigError(name, 'is set but holds no token; list tokens separated by commas, or unset it to run without authentication');
  return asConfigError(name, () => parseTokenEntries(entries, (i) => `entry ${i + 1}`));
};

const cidrList: Parser<string[]> = (raw, name) => {
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const e of entries) {
    try {
      parseCidr(e);
    } catch (err) {
      throw new ConfigError(name, (err as Error).message);
    }
  }
  return entries;
};

const secretKey: Parser<Buffer> = (raw, name) => {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) throw new ConfigError(name, 'is not base64; make a key with: openssl rand -base64 32');
  const key = Buffer.from(raw, 'base64');
  if (key.length !== 32) throw new ConfigError(name, `must be the base64 of exactly 32 bytes, got ${key.length} bytes; make a key with: openssl rand -base64 32`);
  return key;
};

const sqliteSynchronous: Parser<'FULL' | 'NORMAL'> = (raw, name, cwd) => (oneOf(['full', 'normal'])(raw, name, cwd) === 'full' ? 'FULL' : 'NORMAL');

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** An http(s) URL; quotes only its scheme, since a URL may carry credentials. */
const httpUrl: Parser<string> = (raw, name) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not an absolute URL; expected e.g. http://otel-collector:4318');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(name, `expected an http:// or https:// URL, got "${url.protocol}"`);
  return raw;
};

/**
 * The OTEL list form `key=value,key2=value2`, values percent-encoded (the
 * spec's format of OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES).
 * Errors name the entry by position and never quote a value: a header value
 * is often a token.
 */
const keyValueList: Parser<Record<string, string>> = (raw, name) => {
  const pairs: Record<string, string> = {};
  for (const [i, entry] of raw.split(',').entries()) {
    if (entry.trim() === '') continue;
    const eq = entry.indexOf('=');
    const key = eq === -1 ? '' : entry.slice(0, eq).trim();
    if (key === '') throw new ConfigError(name, `entry ${i + 1} is not key=value (comma-separated key=value pairs expected)`);
    let value: string;
    try {
      value = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      throw new ConfigError(name, `the value of entry ${i + 1} (${key.slice(0, 40)}) is not valid percent-encoding`);
    }
    pairs[key] = value;
  }
  return pairs;
};

const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;

const otlpProtocol: Parser<(typeof OTLP_PROTOCOLS)[number]> = (raw, name, cwd) => {
  // gRPC export would bring a second gRPC stack into the process for one exporter: collectors take OTLP/HTTP on 4318.
  if (raw.toLowerCase() === 'grpc') throw new ConfigError(name, 'grpc is not supported; use http/protobuf (a collector\'s port 4318) or http/json');
  return oneOf(OTLP_PROTOCOLS)(raw, name, cwd);
};

const TRACE_SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

const ratio: Parser<number> = (raw, name) => {
  const value = Number(raw);
  if (!/^\d*\.?\d+$/.test(raw) || value > 1) throw new ConfigError(name, `expected a ratio between 0 and 1 such as 0.25, got "${raw.slice(0, 20)}"`);
  return value;
};

/** OTEL_SERVICE_NAME (never blank: a blank variable counts as unset). */
const serviceName: Parser<string> = (raw, name) => {
  if (raw.length > 200) throw new ConfigError(name, `must be at most 200 characters, got ${raw.length}`);
  return raw;
};

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

/**
 * Every environment variable Herald reads, in the order of docs/configuration.md: its default as
 * one would write it, its parser (ranges included) and one line of meaning.
 * Nothing else in this module names a variable's default.
 */
export const VARIABLES = {
  DATABASE_URL: withDefault(DEFAULT_DATABASE_URL, (raw, _name, cwd) => parseDatabaseUrl(raw, cwd), '`file:<path>` (SQLite) or `postgresql://…` (PostgreSQL)'),
  GRPC_ADDRESS: withDefault('0.0.0.0:50051', hostPort('0.0.0.0:50051'), 'where the gRPC server listens'),
  HERALD_ROLE: withDefault('all', oneOf<ProcessRole>(['all', 'api', 'worker']), '`all` serves gRPC and delivers; `api` and `worker` do one each'),
  HERALD_WORKER: withDefault('true', flag, '`false` turns the in-process delivery worker off'),
  HERALD_API_TOKENS: optional(tokenEntries, 'comma-separated `TOKEN` (operator) or `TENANT:ROLE:TOKEN` entries; set, every RPC needs a token'),
  HERALD_API_TOKENS_FILE: optional(fileNameInCwd, 'a file of more token entries, one a line, re-read on SIGHUP; set, every RPC needs a token'),
  HERALD_TLS_CERT_FILE: optional(fileName, 'PEM certificate chain of the gRPC port (with HERALD_TLS_KEY_FILE)'),
  HERALD_TLS_KEY_FILE: optional(fileName, 'PEM private key of the gRPC port (with HERALD_TLS_CERT_FILE)'),
  HERALD_TLS_CLIENT_CA_FILE: optional(fileName, 'PEM CA bundle: clients must present a certificate it signed'),
  WEBHOOK_SECRET: optional(webhookSecret, 'the secret new agents of the tenant `default` get instead of a random one'),
  WEBHOOK_TIMEOUT: withDefault('10', secondsAsMs(0.001, 60), 'seconds per webhook request, for agents that set none'),
  WEBHOOK_MAX_RETRIES: withDefault('3', wholeNumber(0, 100), 'retries after the first attempt'),
  WEBHOOK_RETRY_DELAY: withDefault('1.0', secondsAsMs(0, 86_400), 'seconds: base of the exponential backoff'),
  HERALD_RETRY_MAX_DELAY_MS: withDefault('3600000', wholeNumber(0, 7 * 86_400_000), 'cap of the backoff and of Retry-After, ms'),
  HERALD_WORKER_CONCURRENCY: withDefault('16', wholeNumber(1, 1_000), 'webhooks in flight per process'),
  HERALD_LEASE_MS: withDefault('90000', wholeNumber(1_000, 3_600_000), 'how long a claim holds a delivery; at least WEBHOOK_TIMEOUT + 2 s'),
  HERALD_POLL_MS: withDefault('1000', wholeNumber(10, 600_000), 'longest idle wait between looks at the queue, ms'),
  HERALD_HEALTH_CHECK_MS: withDefault('500', wholeNumber(50, 600_000), 'how often the database is checked for the health service, ms'),
  HERALD_HEALTH_CHECK_TIMEOUT_MS: withDefault('1000', wholeNumber(10, 60_000), 'a health check of the database that takes longer has failed, ms'),
  HERALD_HEALTH_FAILED_WRITES: withDefault('3', wholeNumber(1, 1_000), 'writes failing in a row with a database fault that turn health NOT_SERVING'),
  HERALD_SHUTDOWN_GRACE_MS: withDefault('10000', wholeNumber(0, 600_000), 'how long in-flight calls and sends may finish on SIGTERM, ms'),
  HERALD_SECRET_GRACE_SECONDS: withDefault('86400', wholeNumber(0, 7 * 86_400), 'how long a rotated-out secret keeps signing'),
  HERALD_MAX_ENDPOINTS_PER_AGENT: withDefault('20', wholeNumber(1, 1_000), 'endpoints one agent may have, its first (0.2 webhook_url) included'),
  HERALD_ALLOW_HTTP_TARGETS: withDefault('false', flag, 'accept http:// webhook URLs'),
  HERALD_ALLOW_PRIVATE_TARGETS: withDefault('false', flag, 'accept loopback and private webhook hosts'),
  HERALD_ALLOWED_TARGET_CIDRS: optional(cidrList, 'comma-separated IPv4/IPv6 ranges webhooks may reach although refused otherwise'),
  HERALD_SIGNATURE_HEADER: withDefault('X-Herald-Signature', headerName, 'name of the hex-signature header'),
  HERALD_DB_POOL_SIZE: withDefault('10', wholeNumber(1, 500), 'PostgreSQL connections per process'),
  HERALD_DB_CONNECT_TIMEOUT_MS: withDefault('2000', wholeNumber(100, 600_000), 'opening one PostgreSQL connection, at start and on reconnects, ms'),
  HERALD_DB_ACQUIRE_TIMEOUT_MS: withDefault('1000', wholeNumber(10, 600_000), 'waiting for a pooled connection or for a transaction to begin, ms'),
  HERALD_DB_STATEMENT_TIMEOUT_MS: withDefault('2000', wholeNumber(10, 600_000), 'one statement (PostgreSQL statement_timeout, SQLite busy wait), ms'),
  HERALD_DB_TRANSACTION_TIMEOUT_MS: withDefault('2000', wholeNumber(10, 600_000), 'one transaction, first statement to commit, ms'),
  HERALD_DB_STARTUP_TIMEOUT_MS: withDefault('10000', wholeNumber(100, 3_600_000), 'how long start-up waits for the database before exiting with status 1, ms'),
  HERALD_SQLITE_SYNCHRONOUS: withDefault('full', sqliteSynchronous, '`full` survives power loss; `normal` is faster'),
  HERALD_SQLITE_THREAD: withDefault('false', flag, 'SQLite\'s connection on a worker thread: statements, busy waits and fsyncs stop no gRPC call; slower and more memory on a fast disk'),
  HERALD_SQLITE_MAX_MB: optional(wholeNumber(1, 16_000_000), 'the size the SQLite file may grow to, MiB; past it writes answer RESOURCE_EXHAUSTED'),
  HERALD_AGENT_MAX_IN_FLIGHT: withDefault('4', wholeNumber(1, 1_000), 'deliveries to one endpoint of an agent in flight at once, across replicas'),
  HERALD_DISABLE_AFTER_FAILURES: withDefault('50', wholeNumber(0, 1_000_000), 'deliveries of one agent failing in a row that turn its webhook off; 0: never'),
  HERALD_RETRY_MIN_DELAY_MS: withDefault('1000', wholeNumber(0, 3_600_000), 'floor of Retry-After and of retries after a 429 or a timeout, ms (lowered to HERALD_RETRY_MAX_DELAY_MS when unset)'),
  HERALD_WATCH_MAX_STREAMS: withDefault('100', wholeNumber(1, 100_000), 'WatchDeliveries streams open at once per process'),
  HERALD_WATCH_MAX_STREAMS_PER_TENANT: withDefault('50', wholeNumber(1, 100_000), 'WatchDeliveries streams of one tenant open at once per process (lowered to HERALD_WATCH_MAX_STREAMS when unset)'),
  HERALD_TENANT_MAX_IN_FLIGHT: withDefault('32', wholeNumber(1, 100_000), 'calls of one tenant in progress at once per process while another tenant is active'),
  HERALD_LOG_LEVEL: withDefault('info', oneOf(LOG_LEVELS), 'log level of the JSON lines on stdout'),
  HERALD_METRICS_ADDRESS: optional(hostPort('127.0.0.1:9464'), 'host:port where GET /metrics serves Prometheus metrics'),
  HERALD_CONSOLE_ADDRESS: optional(hostPort('127.0.0.1:8080'), 'host:port of the operator console; needs API tokens'),
  HERALD_CONSOLE_SESSION_SECONDS: withDefault('3600', wholeNumber(60, 7 * 86_400), 'a console session ends after this long without a request'),
  HERALD_PORTAL_BASE_URL: optional(publicOrigin, 'public origin of portal links, e.g. `https://herald.example.com`; default: the console\'s address'),
  HERALD_PORTAL_FRAME_ANCESTORS: optional(originList, 'space-separated origins allowed to frame the portal; default: none'),
  HERALD_RETENTION_DAYS: withDefault('30', wholeNumber(0, 36_500), 'days notifications and finished deliveries are kept; 0 keeps everything'),
  HERALD_RETENTION_SWEEP_MS: withDefault('600000', wholeNumber(1_000, 86_400_000), 'time between two retention sweeps, ms'),
  HERALD_SECRET_KEY: optional(secretKey, '32 random bytes in base64 that encrypt secrets at rest'),
  HERALD_SECRET_KEY_PREVIOUS: optional(secretKey, 'the key before a rotation: values it encrypted still decrypt'),
  HERALD_DIGEST_MAX_ITEMS: withDefault(String(DEFAULT_DIGEST_MAX_ITEMS), wholeNumber(1, 1_000), 'notifications in one digest webhook'),
  OTEL_EXPORTER_OTLP_ENDPOINT: optional(httpUrl, 'base URL of an OTLP/HTTP collector; set, traces are on and go to <url>/v1/traces'),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optional(httpUrl, 'the full traces URL, instead of OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces; set, traces are on'),
  OTEL_TRACES_EXPORTER: optional(oneOf(['otlp', 'console', 'none'] as const), '`otlp` (to http://localhost:4318 without an endpoint), `console` (stdout) or `none`; set, except to `none`, traces are on'),
  OTEL_EXPORTER_OTLP_PROTOCOL: withDefault('http/protobuf', otlpProtocol, '`http/protobuf` or `http/json` (gRPC export is not supported)'),
  OTEL_EXPORTER_OTLP_HEADERS: optional(keyValueList, 'headers of every export request, `key=value` pairs (a collector token); never logged'),
  OTEL_SERVICE_NAME: withDefault('herald', serviceName, 'service.name of every span'),
  OTEL_RESOURCE_ATTRIBUTES: optional(keyValueList, 'more resource attributes, `key=value` pairs, e.g. `deployment.environment.name=prod`'),
  OTEL_TRACES_SAMPLER: withDefault('parentbased_always_on', oneOf(TRACE_SAMPLERS), 'which traces are kept; `parentbased_*` follow the caller\'s sampled flag'),
  OTEL_TRACES_SAMPLER_ARG: optional(ratio, 'the ratio of the `*traceidratio` samplers, 0 to 1 (default 1)'),
  OTEL_SDK_DISABLED: withDefault('false', flag, '`true` turns tracing off whatever the other OTEL variables say'),
} as const;

export type VariableName = keyof typeof VARIABLES;

/** What each variable reads as: its parser's result, or null for an unset variable without a default. */
type Values = { readonly [K in VariableName]: ReturnType<(typeof VARIABLES)[K]['read']> };

/** A variable's value, trimmed; blank counts as unset. */
function read(env: Env, name: string): string | undefined {
  const trimmed = env[name]?.trim();
  return trimmed === '' ? undefined : trimmed;
}

function readVariables(env: Env, cwd: string): { values: Values; given: ReadonlySet<VariableName> } {
  const values: Partial<Record<VariableName, unknown>> = {};
  const given = new Set<VariableName>();
  for (const name of Object.keys(VARIABLES) as VariableName[]) {
    const raw = read(env, name);
    if (raw !== undefined) given.add(name);
    values[name] = (VARIABLES[name] as Variable<unknown>).read(raw, name, cwd);
  }
  // Filled above for every key of VARIABLES, each by its own variable's reader.
  return { values: values as Values, given };
}

// ---------------------------------------------------------------------------
// The rules between variables, and the files they name
// ---------------------------------------------------------------------------

function asConfigError<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TokenEntryError) throw new ConfigError(name, err.message);
    throw err;
  }
}

function pemFile(name: string, path: string, marker: RegExp): Buffer {
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

function tls(v: Values): TlsConfig | null {
  const { HERALD_TLS_CERT_FILE: cert, HERALD_TLS_KEY_FILE: key, HERALD_TLS_CLIENT_CA_FILE: ca } = v;
  if (cert === null && key === null) {
    if (ca !== null) throw new ConfigError('HERALD_TLS_CLIENT_CA_FILE', 'needs HERALD_TLS_CERT_FILE and HERALD_TLS_KEY_FILE');
    return null;
  }
  if (cert === null) throw new ConfigError('HERALD_TLS_CERT_FILE', 'is required when HERALD_TLS_KEY_FILE is set');
  if (key === null) throw new ConfigError('HERALD_TLS_KEY_FILE', 'is required when HERALD_TLS_CERT_FILE is set');
  return {
    certChain: pemFile('HERALD_TLS_CERT_FILE', cert, /-----BEGIN CERTIFICATE-----/),
    privateKey: pemFile('HERALD_TLS_KEY_FILE', key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/),
    clientCa: ca === null ? null : pemFile('HERALD_TLS_CLIENT_CA_FILE', ca, /-----BEGIN CERTIFICATE-----/),
  };
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
  return asConfigError('HERALD_API_TOKENS_FILE', () => parseTokenEntries(lines.map((l) => l.entry), (i) => `"${path}" line ${lines[i]!.line}`));
}

function auth(v: Values): AuthConfig {
  const fromEnv = v.HERALD_API_TOKENS ?? [];
  const path = v.HERALD_API_TOKENS_FILE;
  const fromFile = path === null ? [] : readApiTokensFile(path);
  const tokens = asConfigError('HERALD_API_TOKENS_FILE', () => combineTokenSources(fromEnv, fromFile));
  return { tokens, required: v.HERALD_API_TOKENS !== null || path !== null, fromEnv, file: path === null ? null : { path, tokens: fromFile } };
}

function secretKeys(v: Values): SecretKeys | null {
  const { HERALD_SECRET_KEY: current, HERALD_SECRET_KEY_PREVIOUS: previous } = v;
  if (current === null) {
    if (previous !== null) throw new ConfigError('HERALD_SECRET_KEY_PREVIOUS', 'needs HERALD_SECRET_KEY (the new key) as well');
    return null;
  }
  if (previous !== null && previous.equals(current)) throw new ConfigError('HERALD_SECRET_KEY_PREVIOUS', 'is the same key as HERALD_SECRET_KEY');
  return { current, previous };
}

/** Relative jitter of every retry delay: ±20 %, so deliveries that failed together do not retry in lockstep. */
const RETRY_JITTER = 0.2;

/** Time a lease must leave beyond the send's timeout for the recording after it. */
const LEASE_MARGIN_MS = 2_000;

function retryPolicy(v: Values, given: ReadonlySet<VariableName>): RetryPolicy {
  const maxDelayMs = v.HERALD_RETRY_MAX_DELAY_MS;
  // The default floor yields to a lower cap; a floor set above the cap is a mistake.
  const minDelayMs = given.has('HERALD_RETRY_MIN_DELAY_MS') ? v.HERALD_RETRY_MIN_DELAY_MS : Math.min(v.HERALD_RETRY_MIN_DELAY_MS, maxDelayMs);
  if (minDelayMs > maxDelayMs) {
    throw new ConfigError('HERALD_RETRY_MIN_DELAY_MS', `must not exceed HERALD_RETRY_MAX_DELAY_MS (${maxDelayMs} ms), got ${minDelayMs}`);
  }
  return { baseDelayMs: v.WEBHOOK_RETRY_DELAY, maxDelayMs, minDelayMs, maxRetries: v.WEBHOOK_MAX_RETRIES, jitter: RETRY_JITTER };
}

/** The per-tenant stream cap: its default yields to a lower process cap; one set above it is a mistake. */
function watchStreamsPerTenant(v: Values, given: ReadonlySet<VariableName>): number {
  const max = v.HERALD_WATCH_MAX_STREAMS;
  if (!given.has('HERALD_WATCH_MAX_STREAMS_PER_TENANT')) return Math.min(v.HERALD_WATCH_MAX_STREAMS_PER_TENANT, max);
  if (v.HERALD_WATCH_MAX_STREAMS_PER_TENANT > max) {
    throw new ConfigError('HERALD_WATCH_MAX_STREAMS_PER_TENANT', `must not exceed HERALD_WATCH_MAX_STREAMS (${max}), got ${v.HERALD_WATCH_MAX_STREAMS_PER_TENANT}`);
  }
  return v.HERALD_WATCH_MAX_STREAMS_PER_TENANT;
}

/** Freezes plain objects and arrays all the way down (Buffers cannot be frozen and are left as they are). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Buffer.isBuffer(value) && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Where the OTLP spec puts traces under a base endpoint: `<base>/v1/traces`, with one slash. */
function tracesUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/** Tracing is on when an OTEL variable asks for it (the rule of issue #23), and OTEL_SDK_DISABLED does not stop it. */
function tracing(v: Values): TracingConfig | null {
  const asked = v.OTEL_TRACES_EXPORTER ?? (v.OTEL_EXPORTER_OTLP_ENDPOINT !== null || v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== null ? 'otlp' : 'none');
  if (v.OTEL_SDK_DISABLED || asked === 'none') return null;
  const exporter: TraceExporterConfig =
    asked === 'console'
      ? { kind: 'console' }
      : {
          kind: 'otlp',
          // The spec's default collector, as every OpenTelemetry SDK has it.
          url: v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? tracesUrl(v.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318'),
          protocol: v.OTEL_EXPORTER_OTLP_PROTOCOL,
          headers: v.OTEL_EXPORTER_OTLP_HEADERS ?? {},
        };
  const sampler = v.OTEL_TRACES_SAMPLER;
  const parentBased = sampler.startsWith('parentbased_');
  const kind = sampler.replace(/^parentbased_/, '') as TraceSamplerConfig['kind'];
  return { serviceName: v.OTEL_SERVICE_NAME, resourceAttributes: v.OTEL_RESOURCE_ATTRIBUTES ?? {}, exporter, sampler: { kind, parentBased, ratio: v.OTEL_TRACES_SAMPLER_ARG ?? 1 } };
}

/** Reads, validates and compiles the whole configuration. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const { values: v, given } = readVariables(env, cwd);
  const leaseMs = v.HERALD_LEASE_MS;
  if (leaseMs < v.WEBHOOK_TIMEOUT + LEASE_MARGIN_MS) {
    throw new ConfigError('HERALD_LEASE_MS', `must be at least WEBHOOK_TIMEOUT (${v.WEBHOOK_TIMEOUT} ms) + ${LEASE_MARGIN_MS} ms, or a slow send would be taken over mid-flight`);
  }
  const role = v.HERALD_ROLE;
  const policy = retryPolicy(v, given);
  const certificates = tls(v);
  const tokens = auth(v);
  const keys = secretKeys(v);
  // Without tokens every caller is an operator: a console would hand every
  // tenant to any web page the operator's browser opens (see docs/monitoring.md, "Console").
  if (v.HERALD_CONSOLE_ADDRESS !== null && !tokens.required) {
    throw new ConfigError('HERALD_CONSOLE_ADDRESS', 'the console signs in with an API token: set HERALD_API_TOKENS or HERALD_API_TOKENS_FILE as well');
  }
  const worker: WorkerConfig | null =
    v.HERALD_WORKER && role !== 'api' ? { concurrency: v.HERALD_WORKER_CONCURRENCY, agentMaxInFlight: v.HERALD_AGENT_MAX_IN_FLIGHT, leaseMs, pollMs: v.HERALD_POLL_MS } : null;
  const grpc: GrpcConfig | null =
    role === 'worker'
      ? null
      : {
          address: v.GRPC_ADDRESS,
          tls: certificates,
          maxWatchStreams: v.HERALD_WATCH_MAX_STREAMS,
          maxWatchStreamsPerTenant: watchStreamsPerTenant(v, given),
          tenantMaxInFlight: v.HERALD_TENANT_MAX_IN_FLIGHT,
        };
  const sqliteMaxBytes = v.HERALD_SQLITE_MAX_MB === null ? null : v.HERALD_SQLITE_MAX_MB * 1024 * 1024;
  const timeouts: DatabaseTimeouts = {
    connectTimeoutMs: v.HERALD_DB_CONNECT_TIMEOUT_MS,
    acquireTimeoutMs: v.HERALD_DB_ACQUIRE_TIMEOUT_MS,
    statementTimeoutMs: v.HERALD_DB_STATEMENT_TIMEOUT_MS,
    transactionTimeoutMs: v.HERALD_DB_TRANSACTION_TIMEOUT_MS,
  };
  return deepFreeze<Config>({
    role,
    logLevel: v.HERALD_LOG_LEVEL,
    database: v.DATABASE_URL,
    store: { poolSize: v.HERALD_DB_POOL_SIZE, sqliteSynchronous: v.HERALD_SQLITE_SYNCHRONOUS, timeouts, sqliteMaxBytes, sqliteThread: v.HERALD_SQLITE_THREAD },
    secretKeys: keys,
    auth: tokens,
    targetGuard: { allowHttp: v.HERALD_ALLOW_HTTP_TARGETS, allowPrivate: v.HERALD_ALLOW_PRIVATE_TARGETS, allowedCidrs: v.HERALD_ALLOWED_TARGET_CIDRS ?? [] },
    dispatcher: {
      retryPolicy: policy,
      defaultTimeoutMs: v.WEBHOOK_TIMEOUT,
      signatureHeader: v.HERALD_SIGNATURE_HEADER,
      leaseMs,
      disableAfterFailures: v.HERALD_DISABLE_AFTER_FAILURES,
    },
    worker,
    grpc,
    health: {
      intervalMs: v.HERALD_HEALTH_CHECK_MS,
      checkTimeoutMs: v.HERALD_HEALTH_CHECK_TIMEOUT_MS,
      failedWrites: v.HERALD_HEALTH_FAILED_WRITES,
      sqliteMaxBytes,
      connectTimeoutMs: v.HERALD_DB_CONNECT_TIMEOUT_MS,
    },
    startup: { connectTimeoutMs: v.HERALD_DB_CONNECT_TIMEOUT_MS, startupTimeoutMs: v.HERALD_DB_STARTUP_TIMEOUT_MS },
    console:
      v.HERALD_CONSOLE_ADDRESS === null
        ? null
        : {
            address: v.HERALD_CONSOLE_ADDRESS,
            sessionSeconds: v.HERALD_CONSOLE_SESSION_SECONDS,
            tls: certificates,
            portal: { baseUrl: v.HERALD_PORTAL_BASE_URL, frameAncestors: v.HERALD_PORTAL_FRAME_ANCESTORS ?? [] },
          },
    portalBaseUrl: v.HERALD_PORTAL_BASE_URL,
    metrics: v.HERALD_METRICS_ADDRESS === null ? null : { address: v.HERALD_METRICS_ADDRESS },
    retention: worker === null || v.HERALD_RETENTION_DAYS === 0 ? null : { retentionDays: v.HERALD_RETENTION_DAYS, sweepMs: v.HERALD_RETENTION_SWEEP_MS },
    preferences: { signatureHeader: v.HERALD_SIGNATURE_HEADER, defaultWebhookSecret: v.WEBHOOK_SECRET ?? undefined, secretGraceSeconds: v.HERALD_SECRET_GRACE_SECONDS },
    endpoints: { signatureHeader: v.HERALD_SIGNATURE_HEADER, secretGraceSeconds: v.HERALD_SECRET_GRACE_SECONDS, maxEndpointsPerAgent: v.HERALD_MAX_ENDPOINTS_PER_AGENT },
    notifications: { digestMaxItems: v.HERALD_DIGEST_MAX_ITEMS },
    deliveries: { leaseMs },
    shutdownGraceMs: v.HERALD_SHUTDOWN_GRACE_MS,
    tracing: tracing(v),
  });
}

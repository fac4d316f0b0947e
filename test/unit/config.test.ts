import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig, parseDatabaseUrl, type Config } from '../../src/config.js';

describe('parseDatabaseUrl', () => {
  const cwd = '/srv/herald';
  const cases: Array<[string | undefined, string, string]> = [
    [undefined, 'sqlite', '/srv/herald/data/herald.db'],
    ['  ', 'sqlite', '/srv/herald/data/herald.db'],
    ['file:./x.db', 'sqlite', '/srv/herald/x.db'],
    ['file:x.db', 'sqlite', '/srv/herald/x.db'],
    ['file:/var/lib/herald.db', 'sqlite', '/var/lib/herald.db'],
    ['file:///var/lib/herald.db', 'sqlite', '/var/lib/herald.db'],
    ['postgres://u:p@db:5432/herald', 'postgresql', 'postgres://u:p@db:5432/herald'],
    ['postgresql://db/herald?schema=h', 'postgresql', 'postgresql://db/herald?schema=h'],
  ];
  for (const [url, provider, where] of cases) {
    test(`${JSON.stringify(url)} is ${provider} at ${where}`, () => {
      const db = parseDatabaseUrl(url, cwd);
      assert.equal(db.provider, provider);
      assert.equal(db.provider === 'sqlite' ? db.filePath : db.url, where);
    });
  }

  test('an unsupported scheme is refused without echoing the password', () => {
    assert.throws(() => parseDatabaseUrl('mysql://root:secret@db/herald', cwd), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.variable, 'DATABASE_URL');
      assert.match(err.message, /unsupported scheme "mysql:"/);
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
  });

  test('file: without a path, or with parameters, is refused', () => {
    assert.throws(() => parseDatabaseUrl('file:', cwd), /expected file:<path/);
    assert.throws(() => parseDatabaseUrl('file:./x.db?mode=ro', cwd), /expected file:<path/);
  });
});

/** The per-agent and per-client limits of issue #8, wherever each consumer holds them. */
function deliveryLimits(c: Config): Record<string, number | undefined> {
  return {
    agentMaxInFlight: c.worker?.agentMaxInFlight,
    disableAfterFailures: c.dispatcher.disableAfterFailures,
    retryMinDelayMs: c.dispatcher.retryPolicy.minDelayMs,
    watchMaxStreams: c.grpc?.maxWatchStreams,
  };
}

describe('loadConfig', () => {
  test('defaults follow the seed: 3 retries, 1 s base delay, 10 s timeout, port 50051', () => {
    const c = loadConfig({}, '/srv');
    assert.equal(c.dispatcher.retryPolicy.maxRetries, 3);
    assert.equal(c.dispatcher.retryPolicy.baseDelayMs, 1000);
    assert.equal(c.dispatcher.defaultTimeoutMs, 10_000);
    assert.equal(c.grpc?.address, '0.0.0.0:50051');
    assert.equal(c.role, 'all');
    assert.notEqual(c.worker, null);
    assert.equal(c.targetGuard.allowHttp, false);
    assert.equal(c.dispatcher.signatureHeader, 'X-Herald-Signature');
  });

  test('seconds in the seed variables become milliseconds', () => {
    const c = loadConfig({ WEBHOOK_RETRY_DELAY: '1.5', WEBHOOK_TIMEOUT: '2.25' });
    assert.equal(c.dispatcher.retryPolicy.baseDelayMs, 1500);
    assert.equal(c.dispatcher.defaultTimeoutMs, 2250);
  });

  const bad: Array<[string, string]> = [
    ['WEBHOOK_MAX_RETRIES', 'abc'],
    ['WEBHOOK_MAX_RETRIES', '-1'],
    ['WEBHOOK_RETRY_DELAY', 'soon'],
    ['WEBHOOK_TIMEOUT', '0'],
    ['GRPC_ADDRESS', 'nonsense'],
    ['GRPC_ADDRESS', 'localhost:70000'],
    ['HERALD_WORKER', 'maybe'],
    ['HERALD_ROLE', 'boss'],
    ['HERALD_LOG_LEVEL', 'loud'],
    ['HERALD_WORKER_CONCURRENCY', '0'],
    ['HERALD_LEASE_MS', '5000'],
    ['HERALD_SIGNATURE_HEADER', 'bad header'],
    ['HERALD_SIGNATURE_HEADER', 'webhook-signature'],
    ['HERALD_SIGNATURE_HEADER', 'X-Herald-Delivery'],
    ['HERALD_SIGNATURE_HEADER', 'Transfer-Encoding'],
    ['HERALD_API_TOKENS', 'short'],
    ['HERALD_API_TOKENS', 'acme:wrte:aaaaaaaaaaaaaaaa'],
    ['HERALD_API_TOKENS', 'Acme:read:aaaaaaaaaaaaaaaa'],
    ['HERALD_API_TOKENS', 'acme:read:short'],
    ['HERALD_API_TOKENS', 'aaaaaaaaaaaaaaaa,acme:admin:aaaaaaaaaaaaaaaa'],
    ['HERALD_API_TOKENS_FILE', '/nonexistent/herald-tokens'],
    // Set but holding no token: refused rather than read as "no authentication".
    ['HERALD_API_TOKENS', ','],
    ['HERALD_API_TOKENS', ' , '],
    ['WEBHOOK_SECRET', 'abc'],
    ['WEBHOOK_SECRET', 'whsec_c2hvcnQ='],
  ];
  for (const [name, value] of bad) {
    test(`${name}=${JSON.stringify(value)} stops start-up naming ${name}`, () => {
      assert.throws(() => loadConfig({ [name]: value }), (err: unknown) => err instanceof ConfigError && err.variable === name && err.message.startsWith(`${name}:`));
    });
  }

  test('TLS needs both the certificate and the key, readable and in PEM', () => {
    assert.throws(() => loadConfig({ HERALD_TLS_CERT_FILE: '/nonexistent/cert.pem' }), (e: unknown) => e instanceof ConfigError && e.variable === 'HERALD_TLS_KEY_FILE');
    assert.throws(() => loadConfig({ HERALD_TLS_KEY_FILE: '/nonexistent/key.pem' }), (e: unknown) => e instanceof ConfigError && e.variable === 'HERALD_TLS_CERT_FILE');
    assert.throws(
      () => loadConfig({ HERALD_TLS_CERT_FILE: '/nonexistent/cert.pem', HERALD_TLS_KEY_FILE: '/nonexistent/key.pem' }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'HERALD_TLS_CERT_FILE' && /cannot read/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ HERALD_TLS_CERT_FILE: 'package.json', HERALD_TLS_KEY_FILE: 'package.json' }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'HERALD_TLS_CERT_FILE' && /no PEM certificate/.test(e.message),
    );
    assert.throws(() => loadConfig({ HERALD_TLS_CLIENT_CA_FILE: 'ca.pem' }), (e: unknown) => e instanceof ConfigError && e.variable === 'HERALD_TLS_CLIENT_CA_FILE');
    assert.equal(loadConfig({}).grpc?.tls, null);
  });

  test('delivery limits default to 4 in flight per agent, off after 50 failures, a 1 s retry floor and 100 watch streams', () => {
    assert.deepEqual(deliveryLimits(loadConfig({})), { agentMaxInFlight: 4, disableAfterFailures: 50, retryMinDelayMs: 1000, watchMaxStreams: 100 });
    assert.deepEqual(
      deliveryLimits(loadConfig({ HERALD_AGENT_MAX_IN_FLIGHT: '2', HERALD_DISABLE_AFTER_FAILURES: '0', HERALD_RETRY_MIN_DELAY_MS: '250', HERALD_WATCH_MAX_STREAMS: '7' })),
      { agentMaxInFlight: 2, disableAfterFailures: 0, retryMinDelayMs: 250, watchMaxStreams: 7 },
    );
  });

  test('HERALD_DIGEST_MAX_ITEMS defaults to 100 notifications per digest and takes 1 to 1000', () => {
    assert.equal(loadConfig({}).notifications.digestMaxItems, 100);
    assert.equal(loadConfig({ HERALD_DIGEST_MAX_ITEMS: '1' }).notifications.digestMaxItems, 1);
    assert.equal(loadConfig({ HERALD_DIGEST_MAX_ITEMS: '1000' }).notifications.digestMaxItems, 1000);
    for (const bad of ['0', '1001', 'ten', '2.5']) {
      assert.throws(() => loadConfig({ HERALD_DIGEST_MAX_ITEMS: bad }), (e: unknown) => e instanceof ConfigError && e.variable === 'HERALD_DIGEST_MAX_ITEMS');
    }
  });

  test('the default retry floor yields to a lower HERALD_RETRY_MAX_DELAY_MS', () => {
    assert.equal(loadConfig({ HERALD_RETRY_MAX_DELAY_MS: '300' }).dispatcher.retryPolicy.minDelayMs, 300);
  });

  const badLimits: Array<[string, Record<string, string>, RegExp]> = [
    ['HERALD_AGENT_MAX_IN_FLIGHT', { HERALD_AGENT_MAX_IN_FLIGHT: '0' }, /between 1 and/],
    ['HERALD_AGENT_MAX_IN_FLIGHT', { HERALD_AGENT_MAX_IN_FLIGHT: 'four' }, /whole number/],
    ['HERALD_DISABLE_AFTER_FAILURES', { HERALD_DISABLE_AFTER_FAILURES: '-1' }, /between 0 and/],
    ['HERALD_RETRY_MIN_DELAY_MS', { HERALD_RETRY_MIN_DELAY_MS: '1.5' }, /whole number/],
    ['HERALD_RETRY_MIN_DELAY_MS', { HERALD_RETRY_MIN_DELAY_MS: '5000', HERALD_RETRY_MAX_DELAY_MS: '2000' }, /must not exceed HERALD_RETRY_MAX_DELAY_MS/],
    ['HERALD_WATCH_MAX_STREAMS', { HERALD_WATCH_MAX_STREAMS: '0' }, /between 1 and/],
  ];
  for (const [name, env, message] of badLimits) {
    test(`${JSON.stringify(env)} stops start-up naming ${name}`, () => {
      assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && err.variable === name && message.test(err.message));
    });
  }

  test('HERALD_ROLE=api turns the worker off', () => {
    assert.equal(loadConfig({ HERALD_ROLE: 'api' }).worker, null);
  });

  test('HERALD_API_TOKENS is split on commas: bare entries are operator tokens, TENANT:ROLE:TOKEN ones scoped; only digests are kept', () => {
    const tokens = loadConfig({ HERALD_API_TOKENS: 'aaaaaaaaaaaaaaaa, acme:write:bbbbbbbbbbbbbbbb:with:colons' }).auth.fromEnv;
    const sha = (t: string): Buffer => createHash('sha256').update(t).digest();
    assert.deepEqual(tokens, [
      { tenant: null, role: 'operator', digest: sha('aaaaaaaaaaaaaaaa') },
      { tenant: 'acme', role: 'write', digest: sha('bbbbbbbbbbbbbbbb:with:colons') },
    ]);
  });

  test('a bad token entry is reported by its position, never by its value', () => {
    assert.throws(
      () => loadConfig({ HERALD_API_TOKENS: 'aaaaaaaaaaaaaaaa,acme:owner:secret-secret-secret' }),
      (err: Error) => err.message.startsWith('HERALD_API_TOKENS: entry 2:') && !err.message.includes('secret-secret'),
    );
  });

  test('HERALD_API_TOKENS_FILE is read at start-up, one entry a line, skipping # comments and blank lines', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-tokens-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'tokens'), '# the operator\ncccccccccccccccc\n\n  beta:read:dddddddddddddddd  \n');
    const file = loadConfig({ HERALD_API_TOKENS_FILE: 'tokens' }, dir).auth.file;
    assert.equal(file?.path, join(dir, 'tokens'));
    assert.deepEqual(file?.tokens.map((k) => [k.tenant, k.role]), [[null, 'operator'], ['beta', 'read']]);
    assert.equal(loadConfig({}).auth.file, null);
    writeFileSync(join(dir, 'bad'), '# fine\nbeta:reader:dddddddddddddddd\n');
    assert.throws(() => loadConfig({ HERALD_API_TOKENS_FILE: 'bad' }, dir), /^ConfigError: HERALD_API_TOKENS_FILE: ".*bad" line 2: an entry with ':'/);
  });

  test('a token in both HERALD_API_TOKENS and HERALD_API_TOKENS_FILE stops start-up (a reload could not take its rights away), without quoting it', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-tokens-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'tokens'), 'acme:read:eeeeeeeeeeeeeeee\n');
    assert.throws(
      () => loadConfig({ HERALD_API_TOKENS: 'eeeeeeeeeeeeeeee', HERALD_API_TOKENS_FILE: 'tokens' }, dir),
      (err: unknown) => err instanceof ConfigError && err.variable === 'HERALD_API_TOKENS_FILE' && /in both/.test(err.message) && !err.message.includes('eeee'),
    );
    assert.equal(loadConfig({ HERALD_API_TOKENS: 'ffffffffffffffff', HERALD_API_TOKENS_FILE: 'tokens' }, dir).auth.file?.tokens.length, 1);
  });
});

describe('HERALD_ALLOWED_TARGET_CIDRS', () => {
  test('defaults to none and reads comma-separated IPv4 and IPv6 ranges', () => {
    assert.deepEqual(loadConfig({}).targetGuard.allowedCidrs, []);
    assert.deepEqual(loadConfig({ HERALD_ALLOWED_TARGET_CIDRS: '10.20.0.0/16, 127.0.0.0/8,fd00:1::/48,' }).targetGuard.allowedCidrs, ['10.20.0.0/16', '127.0.0.0/8', 'fd00:1::/48']);
  });

  for (const [value, message] of [
    ['10.20.1.0/16', /bits set after its \/16 prefix/],
    ['10.0.0.0/33', /between 0 and 32/],
    ['internal.example', /not an IPv4 or IPv6 range/],
    ['10.0.0.0/8;192.168.0.0/16', /prefix length/],
  ] as const) {
    test(`${JSON.stringify(value)} stops start-up naming the variable and the entry`, () => {
      assert.throws(
        () => loadConfig({ HERALD_ALLOWED_TARGET_CIDRS: value }),
        (e: unknown) => e instanceof ConfigError && e.variable === 'HERALD_ALLOWED_TARGET_CIDRS' && message.test(e.message) && e.message.includes(value.split(';')[0]!.slice(0, 8)),
      );
    });
  }
});

describe('loadConfig: metrics and retention', () => {
  test('metrics are off and retention keeps 30 days by default, swept every 10 minutes', () => {
    const c = loadConfig({});
    assert.equal(c.metrics, null);
    assert.equal(c.retention?.retentionDays, 30);
    assert.equal(c.retention?.sweepMs, 600_000);
  });

  test('HERALD_METRICS_ADDRESS turns the metrics endpoint on; HERALD_RETENTION_DAYS=0 keeps everything', () => {
    const c = loadConfig({ HERALD_METRICS_ADDRESS: '127.0.0.1:9464', HERALD_RETENTION_DAYS: '0', HERALD_RETENTION_SWEEP_MS: '60000' });
    assert.deepEqual(c.metrics, { address: '127.0.0.1:9464' });
    // No sweeper at all: nothing is ever deleted.
    assert.equal(c.retention, null);
    assert.deepEqual(loadConfig({ HERALD_RETENTION_DAYS: '7', HERALD_RETENTION_SWEEP_MS: '60000' }).retention, { retentionDays: 7, sweepMs: 60_000 });
  });

  test('retention runs only where a worker runs', () => {
    assert.equal(loadConfig({ HERALD_ROLE: 'api' }).retention, null);
    assert.equal(loadConfig({ HERALD_WORKER: 'false' }).retention, null);
  });

  const bad: Array<[string, string]> = [
    ['HERALD_METRICS_ADDRESS', '9464'],
    ['HERALD_METRICS_ADDRESS', '127.0.0.1:99999'],
    ['HERALD_RETENTION_DAYS', '-1'],
    ['HERALD_RETENTION_DAYS', '7.5'],
    ['HERALD_RETENTION_SWEEP_MS', '10'],
  ];
  for (const [name, value] of bad) {
    test(`${name}=${JSON.stringify(value)} stops start-up naming ${name}`, () => {
      assert.throws(() => loadConfig({ [name]: value }), (err: unknown) => err instanceof ConfigError && err.variable === name && err.message.startsWith(`${name}:`));
    });
  }
});

describe('loadConfig: secret keys', () => {
  const key = Buffer.alloc(32, 7).toString('base64');
  const other = Buffer.alloc(32, 9).toString('base64');

  test('without HERALD_SECRET_KEY secrets are stored as they are', () => {
    assert.equal(loadConfig({}).secretKeys, null);
  });

  test('HERALD_SECRET_KEY and HERALD_SECRET_KEY_PREVIOUS are decoded to 32-byte keys', () => {
    const c = loadConfig({ HERALD_SECRET_KEY: key, HERALD_SECRET_KEY_PREVIOUS: other });
    assert.deepEqual(c.secretKeys?.current, Buffer.alloc(32, 7));
    assert.deepEqual(c.secretKeys?.previous, Buffer.alloc(32, 9));
    assert.equal(loadConfig({ HERALD_SECRET_KEY: key }).secretKeys?.previous, null);
  });

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['HERALD_SECRET_KEY', { HERALD_SECRET_KEY: 'not base64!' }, /is not base64/],
    ['HERALD_SECRET_KEY', { HERALD_SECRET_KEY: Buffer.alloc(16).toString('base64') }, /exactly 32 bytes, got 16 bytes/],
    ['HERALD_SECRET_KEY', { HERALD_SECRET_KEY: Buffer.alloc(33).toString('base64') }, /exactly 32 bytes, got 33 bytes/],
    ['HERALD_SECRET_KEY_PREVIOUS', { HERALD_SECRET_KEY: key, HERALD_SECRET_KEY_PREVIOUS: 'short' }, /exactly 32 bytes/],
    ['HERALD_SECRET_KEY_PREVIOUS', { HERALD_SECRET_KEY_PREVIOUS: key }, /needs HERALD_SECRET_KEY/],
    ['HERALD_SECRET_KEY_PREVIOUS', { HERALD_SECRET_KEY: key, HERALD_SECRET_KEY_PREVIOUS: key }, /same key/],
  ];
  for (const [name, env, message] of bad) {
    test(`${JSON.stringify(env)} stops start-up naming ${name}`, () => {
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && err.variable === name && message.test(err.message) && !err.message.includes(key),
      );
    });
  }
});

describe('loadConfig: operator console', () => {
  const TOKENS = { HERALD_API_TOKENS: 'operator-token-0123456789' };

  test('the console is off by default; HERALD_CONSOLE_ADDRESS turns it on with sessions ending after an idle hour', () => {
    assert.equal(loadConfig({}).console, null);
    const c = loadConfig({ ...TOKENS, HERALD_CONSOLE_ADDRESS: '127.0.0.1:8080' });
    assert.deepEqual(c.console, { address: '127.0.0.1:8080', sessionSeconds: 3_600, tls: null, portal: { baseUrl: null, frameAncestors: [] } });
    assert.equal(loadConfig({ ...TOKENS, HERALD_CONSOLE_ADDRESS: '127.0.0.1:8080', HERALD_CONSOLE_SESSION_SECONDS: '600' }).console?.sessionSeconds, 600);
  });

  test('HERALD_CONSOLE_ADDRESS without any API token stops start-up: the console signs in with a token', () => {
    assert.throws(
      () => loadConfig({ HERALD_CONSOLE_ADDRESS: '127.0.0.1:8080' }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'HERALD_CONSOLE_ADDRESS' && /HERALD_API_TOKENS or HERALD_API_TOKENS_FILE/.test(e.message),
    );
  });

  const bad: Array<[string, string]> = [
    ['HERALD_CONSOLE_ADDRESS', '8080'],
    ['HERALD_CONSOLE_SESSION_SECONDS', '10'],
    ['HERALD_CONSOLE_SESSION_SECONDS', 'an hour'],
  ];
  for (const [name, value] of bad) {
    test(`${name}=${JSON.stringify(value)} stops start-up naming ${name}`, () => {
      assert.throws(() => loadConfig({ ...TOKENS, HERALD_CONSOLE_ADDRESS: '127.0.0.1:8080', [name]: value }), (err: unknown) => err instanceof ConfigError && err.variable === name);
    });
  }
});

describe('loadConfig: compiled per consumer', () => {
  test('HERALD_ROLE=worker compiles no gRPC server; health still checks the database (the worker claims only while it is healthy); the worker keeps its options', () => {
    const c = loadConfig({ HERALD_ROLE: 'worker', HERALD_WORKER_CONCURRENCY: '3' });
    assert.equal(c.grpc, null);
    assert.equal(c.health.intervalMs, 500);
    assert.deepEqual(c.worker, { concurrency: 3, agentMaxInFlight: 4, leaseMs: 90_000, pollMs: 1_000 });
  });

  test('the database timeouts reach the store, the connect timeout start-up and health, the SQLite cap the store and health', () => {
    const c = loadConfig({
      HERALD_DB_CONNECT_TIMEOUT_MS: '700',
      HERALD_DB_ACQUIRE_TIMEOUT_MS: '300',
      HERALD_DB_STATEMENT_TIMEOUT_MS: '1500',
      HERALD_DB_TRANSACTION_TIMEOUT_MS: '2500',
      HERALD_DB_STARTUP_TIMEOUT_MS: '4000',
      HERALD_SQLITE_MAX_MB: '3',
    });
    assert.deepEqual(c.store.timeouts, { connectTimeoutMs: 700, acquireTimeoutMs: 300, statementTimeoutMs: 1500, transactionTimeoutMs: 2500 });
    assert.deepEqual(c.startup, { connectTimeoutMs: 700, startupTimeoutMs: 4000 });
    assert.equal(c.health.connectTimeoutMs, 700);
    assert.deepEqual([c.store.sqliteMaxBytes, c.health.sqliteMaxBytes], [3 * 1024 * 1024, 3 * 1024 * 1024]);
    assert.equal(loadConfig({}).store.sqliteMaxBytes, null);
  });

  test('the per-tenant stream cap defaults to 50, lowered to a smaller process cap; set above the process cap it stops start-up', () => {
    assert.equal(loadConfig({}).grpc?.maxWatchStreamsPerTenant, 50);
    assert.equal(loadConfig({ HERALD_WATCH_MAX_STREAMS: '20' }).grpc?.maxWatchStreamsPerTenant, 20);
    assert.equal(loadConfig({ HERALD_WATCH_MAX_STREAMS_PER_TENANT: '5' }).grpc?.maxWatchStreamsPerTenant, 5);
    assert.throws(
      () => loadConfig({ HERALD_WATCH_MAX_STREAMS: '20', HERALD_WATCH_MAX_STREAMS_PER_TENANT: '30' }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'HERALD_WATCH_MAX_STREAMS_PER_TENANT' && /must not exceed HERALD_WATCH_MAX_STREAMS \(20\)/.test(err.message),
    );
    assert.equal(loadConfig({ HERALD_TENANT_MAX_IN_FLIGHT: '8' }).grpc?.tenantMaxInFlight, 8);
  });

  test('the lease reaches the worker, the dispatcher and the delivery service alike', () => {
    const c = loadConfig({ HERALD_LEASE_MS: '30000' });
    assert.deepEqual([c.worker?.leaseMs, c.dispatcher.leaseMs, c.deliveries.leaseMs], [30_000, 30_000, 30_000]);
  });

  test('tokens are required when either token variable is set, and the registry gets both sources', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-tokens-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'empty'), '# nobody yet\n');
    assert.equal(loadConfig({}).auth.required, false);
    assert.equal(loadConfig({ HERALD_API_TOKENS_FILE: 'empty' }, dir).auth.required, true);
    writeFileSync(join(dir, 'one'), 'beta:read:dddddddddddddddd\n');
    const c = loadConfig({ HERALD_API_TOKENS: 'aaaaaaaaaaaaaaaa', HERALD_API_TOKENS_FILE: 'one' }, dir);
    assert.deepEqual(c.auth.tokens.map((k) => k.tenant), [null, 'beta']);
  });

  test('the result is frozen all the way down', () => {
    const c = loadConfig({ HERALD_ALLOWED_TARGET_CIDRS: '10.0.0.0/8' });
    for (const part of [c, c.dispatcher, c.dispatcher.retryPolicy, c.targetGuard, c.targetGuard.allowedCidrs, c.auth, c.database]) {
      assert.ok(Object.isFrozen(part));
    }
  });
});

describe('loadConfig: OpenTelemetry traces (the standard OTEL_* variables)', () => {
  const otlp = (tracing: Config['tracing']) => (tracing?.exporter.kind === 'otlp' ? tracing.exporter : null);

  test('tracing is off unless an OTEL variable asks for it, and OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none keeps it off', () => {
    assert.equal(loadConfig({}).tracing, null);
    assert.equal(loadConfig({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }).tracing, null, 'settings of a tracer that was not asked for');
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }).tracing, null);
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing, null);
    assert.notEqual(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing, null);
    assert.notEqual(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/t' }).tracing, null);
    assert.deepEqual(loadConfig({ OTEL_TRACES_EXPORTER: 'console' }).tracing?.exporter, { kind: 'console' });
  });

  test('the traces URL is the endpoint + /v1/traces, the traces endpoint as given, or the spec\'s localhost:4318', () => {
    assert.equal(otlp(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing)?.url, 'http://collector:4318/v1/traces');
    assert.equal(otlp(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector/otlp/' }).tracing)?.url, 'https://collector/otlp/v1/traces');
    assert.equal(otlp(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b/traces' }).tracing)?.url, 'http://b/traces');
    assert.equal(otlp(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing)?.url, 'http://localhost:4318/v1/traces');
  });

  test('defaults: service herald, http/protobuf, parent-based always-on sampling, no headers', () => {
    const tracing = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing;
    assert.deepEqual(tracing, {
      serviceName: 'herald',
      resourceAttributes: {},
      exporter: { kind: 'otlp', url: 'http://c:4318/v1/traces', protocol: 'http/protobuf', headers: {} },
      sampler: { kind: 'always_on', parentBased: true, ratio: 1 },
    });
  });

  test('headers, resource attributes and the sampler are read in the spec\'s formats', () => {
    const tracing = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc, x-tenant = ops',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.namespace=notify',
      OTEL_SERVICE_NAME: 'herald-eu',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    }).tracing;
    assert.deepEqual(otlp(tracing)?.headers, { authorization: 'Bearer abc', 'x-tenant': 'ops' });
    assert.equal(otlp(tracing)?.protocol, 'http/json');
    assert.deepEqual(tracing?.resourceAttributes, { 'deployment.environment.name': 'prod', 'service.namespace': 'notify' });
    assert.equal(tracing?.serviceName, 'herald-eu');
    assert.deepEqual(tracing?.sampler, { kind: 'traceidratio', parentBased: true, ratio: 0.25 });
  });

  const refused: Array<[Record<string, string>, string, RegExp]> = [
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '/v1/traces' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', /absolute URL/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', /http:\/\/ or https:\/\//],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://user:pw@c' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', /http:\/\/ or https:\/\//],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL', /grpc is not supported; use http\/protobuf/],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER', /one of otlp, console, none/],
    [{ OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG', /between 0 and 1/],
    [{ OTEL_EXPORTER_OTLP_HEADERS: 'authorization' }, 'OTEL_EXPORTER_OTLP_HEADERS', /entry 1 is not key=value/],
  ];
  for (const [env, variable, message] of refused) {
    test(`${variable}=${Object.values(env)[0]} stops start-up naming the variable`, () => {
      assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && err.variable === variable && message.test(err.message));
    });
  }

  test('a bad OTEL_EXPORTER_OTLP_HEADERS or endpoint is refused without quoting the token or the password in it', () => {
    for (const env of [{ OTEL_EXPORTER_OTLP_HEADERS: 'x=1,authorization=Bearer%zzTOPSECRET' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://user:TOPSECRET@c' }]) {
      assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && !err.message.includes('TOPSECRET'));
    }
  });
});

describe('loadConfig: the portal', () => {
  test('links start with HERALD_PORTAL_BASE_URL (an origin, a trailing slash dropped) and HERALD_PORTAL_FRAME_ANCESTORS lists exact origins; by default neither', () => {
    const tokens = { HERALD_API_TOKENS: 'portal-config-token-0001', HERALD_CONSOLE_ADDRESS: '127.0.0.1:8080' };
    const plain = loadConfig(tokens);
    assert.equal(plain.portalBaseUrl, null);
    assert.deepEqual(plain.console?.portal, { baseUrl: null, frameAncestors: [] });
    const set = loadConfig({ ...tokens, HERALD_PORTAL_BASE_URL: 'https://Herald.Example.com/', HERALD_PORTAL_FRAME_ANCESTORS: ' https://app.example.com  http://localhost:3000 ' });
    assert.equal(set.portalBaseUrl, 'https://herald.example.com');
    assert.deepEqual(set.console?.portal, { baseUrl: 'https://herald.example.com', frameAncestors: ['https://app.example.com', 'http://localhost:3000'] });
    // Without a console this process serves no portal, but its API still makes links for the replica that does.
    assert.equal(loadConfig({ HERALD_PORTAL_BASE_URL: 'https://herald.example.com' }).portalBaseUrl, 'https://herald.example.com');
  });

  const bad: Array<[string, string]> = [
    ['HERALD_PORTAL_BASE_URL', 'herald.example.com'],
    ['HERALD_PORTAL_BASE_URL', 'https://herald.example.com/portal'],
    ['HERALD_PORTAL_BASE_URL', 'https://user:pw@herald.example.com'],
    ['HERALD_PORTAL_BASE_URL', 'ftp://herald.example.com'],
    ['HERALD_PORTAL_FRAME_ANCESTORS', 'https://*.example.com'],
    ['HERALD_PORTAL_FRAME_ANCESTORS', "'self'"],
    ['HERALD_PORTAL_FRAME_ANCESTORS', 'https://app.example.com/path'],
  ];
  for (const [name, value] of bad) {
    test(`${name}=${JSON.stringify(value)} stops start-up naming ${name}`, () => {
      assert.throws(() => loadConfig({ [name]: value }), (err: unknown) => err instanceof ConfigError && err.variable === name && err.message.startsWith(`${name}:`));
    });
  }
});

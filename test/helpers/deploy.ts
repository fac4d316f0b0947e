/**
 * What the tests of deploy/ share: the files' paths, YAML reading, the
 * alert rules, and Debian's Prometheus binaries (absent: the tests that need
 * them skip and say how to get them).
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

export const REPO_ROOT: string = fileURLToPath(new URL('../../', import.meta.url));

export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');
export const ALERTS_FILE = join(DEPLOY_DIR, 'prometheus', 'alerts.yaml');
export const ALERTS_TEST_FILE = join(DEPLOY_DIR, 'prometheus', 'alerts.test.yaml');
export const DASHBOARD_FILE = join(DEPLOY_DIR, 'grafana', 'herald.json');
export const OPERATIONS_FILE = join(REPO_ROOT, 'docs', 'OPERATIONS.md');

/** One alerting rule of alerts.yaml. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A YAML file as data; `<<` merge keys (YAML 1.1, which Compose files use) are applied. */
export function readYaml(path: string): unknown {
  return parse(readFileSync(path, 'utf8'), { merge: true });
}

/** Every document of a multi-document YAML file, failing on a syntax error. */
export function readYamlDocuments(path: string): unknown[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
    return doc.toJS();
  });
}

export function alertRules(): AlertRule[] {
  const file = readYaml(ALERTS_FILE) as { groups: Array<{ rules: AlertRule[] }> };
  return file.groups.flatMap((g) => g.rules).filter((r) => typeof r.alert === 'string');
}

/** Debian's `prometheus` package installs both; HERALD_TEST_PROMETHEUS_DIR points elsewhere. */
const PROMETHEUS_DIR = process.env.HERALD_TEST_PROMETHEUS_DIR ?? '/usr/bin';

/** The path of `promtool` or `prometheus`, or null when it is not installed. */
export function prometheusBinary(name: 'promtool' | 'prometheus'): string | null {
  const path = join(PROMETHEUS_DIR, name);
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return null;
  }
}

export const NO_PROMETHEUS = `no ${PROMETHEUS_DIR}/promtool or ${PROMETHEUS_DIR}/prometheus: install Debian's prometheus package (apt-get install prometheus; .ci/run does) or set HERALD_TEST_PROMETHEUS_DIR`;

/**
 * A loopback port free right now, for servers that cannot bind port 0 and
 * report it (Prometheus). The operating system picks it; another process
 * could take it before the caller binds, which the caller sees as a failed
 * start and may retry with another.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', resolve).once('error', reject));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * The series names a PromQL expression reads: identifiers followed by a
 * selector, a range or the end of a term, minus PromQL's own words (functions,
 * aggregations, keywords) and label names inside `{...}` or `by (...)`.
 */
export function seriesNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  // Label matchers and grouping lists hold label names, not series.
  // Ranges and subqueries ([5m], [15m:1m]) hold durations.
  const withoutLabels = withoutStrings.replace(/\[[^\]]*\]/g, '[]').replace(/\{[^}]*\}/g, '{}').replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const m of withoutLabels.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?/g)) {
    const [, name, call] = m;
    if (call !== undefined) continue; // a function or an aggregation
    if (PROMQL_WORDS.has(name!) || /^\d/.test(name!)) continue;
    names.add(name!);
  }
  return [...names];
}

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan', 'Inf', 'NaN', 'le']);

/** Grafana template variables in a query ($__rate_interval, $job) become something PromQL parses. */
export function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?(\w+)\}?/g, 'x');
}

export function readDocumentText(path: string): string {
  return readFileSync(path, 'utf8');
}

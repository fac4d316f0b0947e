/**
 * The house's rules for imports, read off the source: no import circle, and
 * every arrow pointing down (grpc → services → {domain, storage, events},
 * delivery → {domain, storage, events}, storage → {domain, events}; domain
 * imports only luxon, itself and the error catalogue; only main.ts imports
 * the composition root).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'generated') return [];
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** File (relative to src/) → the src files it imports (type-only imports included: they tie the design just the same). */
function graph(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)]
      .map((m) => m[1] ?? m[2] ?? '')
      .map((spec) => relative(SRC, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))))
      .filter((target) => !target.startsWith('generated/') && !target.startsWith('..'));
    edges.set(relative(SRC, file), [...new Set(targets)]);
  }
  return edges;
}

function room(file: string): string {
  return file.includes('/') ? file.slice(0, file.indexOf('/')) : file.replace(/\.ts$/, '');
}

test('src/ has no import circle (files)', () => {
  const edges = graph();
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[] = [];
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      circles.push([...path.slice(path.indexOf(file)), file].join(' → '));
      return;
    }
    state.set(file, 'open');
    for (const next of edges.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of edges.keys()) visit(file, []);
  assert.ok(edges.size > 50, `expected to read src/, read ${edges.size} files`);
  assert.deepEqual(circles, []);
});

/** What each room may import besides itself; rooms not listed (app, main, the root files) are unconstrained or leaves below. */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  domain: ['errors'],
  events: ['domain'],
  auth: ['errors'],
  storage: ['domain', 'events', 'errors', 'config', 'logger'],
  services: ['domain', 'storage', 'events', 'errors', 'delivery', 'auth', 'ids', 'logger', 'telemetry'],
  delivery: ['domain', 'storage', 'events', 'errors', 'logger', 'ids', 'telemetry'],
  grpc: ['services', 'auth', 'errors', 'storage', 'domain', 'events', 'logger', 'config', 'metrics', 'telemetry'],
  // The console's HTTP server also serves the portal (its routes and sessions stay the portal's).
  console: ['services', 'auth', 'errors', 'domain', 'logger', 'config', 'events', 'storage', 'web', 'portal'],
  portal: ['services', 'auth', 'errors', 'domain', 'logger', 'storage', 'web'],
  // What both web front ends share: HTML escaping, form reading, HTTP status mapping, the sign-in limiter; neither's sessions.
  web: ['services', 'errors', 'domain'],
  metrics: ['events', 'domain', 'storage', 'logger'],
  config: ['auth', 'domain'],
  // Below services, grpc and delivery, which call it; it sees them only through its own types.
  telemetry: ['config', 'domain', 'logger'],
};

test('every import points down the house: no room imports one above it, and only main.ts imports app.ts', () => {
  const edges = graph();
  const wrong: string[] = [];
  for (const [file, targets] of edges) {
    for (const target of targets) {
      if (target === 'main.ts' || (target === 'app.ts' && file !== 'main.ts')) wrong.push(`${file} → ${target}`);
      const from = room(file);
      const to = room(target);
      const allowed = MAY_IMPORT[from];
      if (from !== to && allowed !== undefined && !allowed.includes(to)) wrong.push(`${file} → ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});

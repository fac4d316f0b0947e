import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadConfig, VARIABLES } from '../../src/config.js';

// VARIABLES in src/config.ts is the one list of settings and their defaults;
// docs/configuration.md's table is written from it by hand. These tests keep
// the two from drifting apart.

const VARIABLE = /\b(?:HERALD_[A-Z0-9_]+|WEBHOOK_[A-Z_]+|OTEL_[A-Z_]+|DATABASE_URL|GRPC_ADDRESS)\b/g;

/** The configuration table of docs/configuration.md: each variable named in a row's first cell, with the row's default cell. */
function documentedTable(): Map<string, string> {
  const page = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const section = /^## Configuration\n([\s\S]*?)^## /m.exec(page)?.[1] ?? '';
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const [, names = '', fallback = ''] = line.split('|');
    for (const m of names.matchAll(VARIABLE)) rows.set(m[0], fallback.trim());
  }
  return rows;
}

/**
 * A default cell as the table's value: `` `x` `` is the value x, an italic
 * note such as *(none)* or *(off)* means no default (null).
 */
function defaultOf(cell: string): string | null {
  const code = /^`([^`]*)`$/.exec(cell);
  if (code !== null) return code[1]!;
  if (/^\*\(.*\)\*$/.test(cell)) return null;
  throw new Error(`docs/configuration.md's default "${cell}" is neither \`value\` nor *(note)*`);
}

test('docs/configuration.md\'s table names exactly the variables of VARIABLES', () => {
  const documented = [...documentedTable().keys()].sort();
  const table = Object.keys(VARIABLES).sort();
  assert.ok(table.length > 30, `expected the table of src/config.ts, found ${table.length} variables`);
  assert.deepEqual(table.filter((v) => !documented.includes(v)), [], 'in VARIABLES but missing from docs/configuration.md');
  assert.deepEqual(documented.filter((v) => !table.includes(v)), [], 'in docs/configuration.md but not in VARIABLES');
});

test('docs/configuration.md\'s table shows each variable\'s default as VARIABLES has it', () => {
  const documented = documentedTable();
  const wrong = Object.entries(VARIABLES).flatMap(([name, variable]) => {
    const cell = documented.get(name);
    if (cell === undefined) return [];
    const shown = defaultOf(cell);
    return shown === variable.default ? [] : [`${name}: docs/configuration.md shows ${JSON.stringify(shown)}, VARIABLES has ${JSON.stringify(variable.default)}`];
  });
  assert.deepEqual(wrong, []);
});

test('every default in VARIABLES passes its own parser', () => {
  const explicit = Object.fromEntries(Object.entries(VARIABLES).flatMap(([name, v]) => (v.default === null ? [] : [[name, v.default]])));
  assert.deepEqual(loadConfig(explicit, '/srv'), loadConfig({}, '/srv'), 'setting every variable to its default changes nothing');
});

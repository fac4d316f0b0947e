import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

// src/config.ts is the one list of settings; README's configuration table is
// derived from it by hand. This test keeps the two from drifting apart.

const VARIABLE = /\b(?:HERALD_[A-Z0-9_]+|WEBHOOK_[A-Z_]+|DATABASE_URL|GRPC_ADDRESS)\b/g;

function readByConfig(): Set<string> {
  const source = readFileSync(new URL('../../src/config.ts', import.meta.url), 'utf8');
  // Only names the code reads (string literals and env.NAME), not names in comments.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const names = new Set<string>();
  for (const m of code.matchAll(/'([A-Z][A-Z0-9_]+)'|env\.([A-Z][A-Z0-9_]+)/g)) {
    const name = m[1] ?? m[2] ?? '';
    if (name.match(VARIABLE)?.[0] === name) names.add(name);
  }
  return names;
}

function documentedInReadme(): Set<string> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = /^## Configuration\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? '';
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const firstCell = line.split('|')[1] ?? '';
    for (const m of firstCell.matchAll(VARIABLE)) names.add(m[0]);
  }
  return names;
}

test('every variable src/config.ts reads is in README\'s configuration table, and the table names no other', () => {
  const read = readByConfig();
  const documented = documentedInReadme();
  assert.ok(read.size > 20, `expected to find the variables config.ts reads, found ${read.size}`);
  assert.deepEqual([...read].filter((v) => !documented.has(v)).sort(), [], 'read by src/config.ts but missing from README');
  assert.deepEqual([...documented].filter((v) => !read.has(v)).sort(), [], 'in README but not read by src/config.ts');
});

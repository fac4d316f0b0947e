/*
 * The one table of request string limits and the guard built from it:
 * docs/api.md documents exactly the table, every string field of every request
 * has an entry (and every entry a field), a field without one stops the
 * server from starting, and quote() keeps error messages short.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

import { checkLength, quote, REQUEST_STRING_LIMITS } from '../../src/domain/validation.js';
import { heraldServiceNames, loadHeraldPackageDefinition } from '../../src/grpc/proto.js';
import { mapEntry, reflectDefinition, RequestGuard } from '../../src/grpc/request-guard.js';

/** The limits the "Limits" table of docs/api.md states, keyed as REQUEST_STRING_LIMITS is. */
function readmeLimits(): Record<string, number> {
  const readme = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
  const start = readme.indexOf('<!-- request-string-limits');
  assert.ok(start >= 0, 'docs/api.md has the request-string-limits table');
  const rows = readme.slice(start).split('\n').slice(1);
  const out: Record<string, number> = {};
  for (const row of rows.slice(2)) {
    if (!row.startsWith('|')) break;
    const [first = '', limit = ''] = row.split('|').slice(1).map((c) => c.trim());
    for (const [, name] of first.matchAll(/`([^`]+)`/g)) {
      const key = name === 'update_mask.paths' ? 'paths' : name === 'webhook_headers' ? `webhook_headers.${first.includes('value') ? 'value' : 'key'}` : name!;
      out[key] = Number(limit);
    }
  }
  return out;
}

test("docs/api.md's Limits table states exactly REQUEST_STRING_LIMITS", () => {
  assert.deepEqual(readmeLimits(), { ...REQUEST_STRING_LIMITS });
});

test('every string field of every request has a limit, and every limit a field', () => {
  const definition = loadHeraldPackageDefinition();
  const guard = new RequestGuard(definition);
  const root = reflectDefinition(definition);
  const used = new Set<string>();
  const seen = new Set<string>();
  const walk = (type: protobuf.Type): void => {
    if (seen.has(type.fullName) || type.fullName === '.google.protobuf.Struct') return;
    seen.add(type.fullName);
    for (const field of type.fieldsArray) {
      field.resolve();
      const resolved = field.resolvedType;
      const entry = resolved instanceof protobuf.Type && field.repeated ? mapEntry(field, resolved) : null;
      if (entry !== null) {
        used.add(`${field.name}.key`);
        used.add(`${field.name}.value`);
      } else if (resolved instanceof protobuf.Type) walk(resolved);
      else if (field.type === 'string') used.add(field.name);
    }
  };
  for (const name of heraldServiceNames(definition)) {
    for (const method of root.lookupService(name).methodsArray) {
      assert.doesNotThrow(() => guard.forMethod(`/${name}/${method.name}`));
      method.resolve();
      walk(method.resolvedRequestType!);
    }
  }
  assert.deepEqual([...used].sort(), Object.keys(REQUEST_STRING_LIMITS).sort());
});

test('a request string field without a limit stops the guard from being built, naming the field and the table', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-limits-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'x.proto'),
    'syntax = "proto3"; package t.v1; service S { rpc M(Req) returns (Req); } message Req { string agent_id = 1; string nickname = 2; }',
  );
  const definition = protoLoader.loadSync('x.proto', { includeDirs: [dir], keepCase: true });
  assert.throws(() => new RequestGuard(definition).forMethod('/t.v1.S/M'), /t\.v1\.Req\.nickname is a request string field without a length limit: add "nickname" to REQUEST_STRING_LIMITS/);
});

test('quote() keeps short values whole and cuts long ones after 100 characters, saying their length', () => {
  assert.equal(quote('Mars/Olympus'), '"Mars/Olympus"');
  assert.equal(quote('x'.repeat(100)), `"${'x'.repeat(100)}"`);
  assert.equal(quote('x'.repeat(200_000)), `"${'x'.repeat(100)}…" (200000 characters)`);
  assert.equal(quote('🚀'.repeat(101)), `"${'🚀'.repeat(100)}…" (101 characters)`, 'cuts between code points, never inside a surrogate pair');
  assert.equal(quote('a\r\nb\u0000'), '"a\\r\\nb\\u0000"', 'control characters are escaped');
  assert.equal(quote('\ud800'), '"\\ud800"', 'a lone surrogate is escaped');
  assert.equal(quote('abcdef', 3), '"abc…" (6 characters)');
});

test('checkLength counts code points and names the field', () => {
  assert.doesNotThrow(() => checkLength('title', '🚀'.repeat(500), 500));
  assert.throws(() => checkLength('title', '🚀'.repeat(501), 500), { message: 'title: must be at most 500 characters, got 501' });
});

/*
 * Canary for mapEntry's REMOVE WHEN line (src/grpc/request-guard.ts): it
 * asserts that the installed protobufjs still rebuilds a map from descriptors
 * the way mapEntry expects. When it fails after an upgrade, protobufjs fixed
 * it: make the guard check `MapField`s, then drop mapEntry and this canary.
 */
test('canary: protobufjs still rebuilds a descriptor map as a repeated entry field and marks its parent map_entry', async (t) => {
  const root = reflectDefinition(loadHeraldPackageDefinition());
  const preferences = root.lookupType('herald.v1.Preferences');
  const field = preferences.fields['webhook_headers'];
  assert.ok(field, 'Preferences no longer has webhook_headers: point the canary at another map field');
  field.resolve();

  await t.test('no MapField (fixed in protobufjs 8 by protobufjs/protobuf.js#2232)', () => {
    assert.equal(field instanceof protobuf.MapField || field.map, false, 'protobufjs now rebuilds maps as MapField: the guard must check field.map fields');
    assert.ok(field.repeated && field.resolvedType instanceof protobuf.Type, 'the map is no longer a repeated field of its entry type');
    assert.notEqual(mapEntry(field, field.resolvedType), null, 'mapEntry no longer recognises the entry');
  });

  await t.test('the message holding the map is marked map_entry too', () => {
    assert.equal(preferences.getOption('map_entry'), true, 'protobufjs no longer marks the parent: mapEntry could read the option instead of the shape');
  });
});

/**
 * Which writes each of the store's views allows: a read writes nothing, a
 * write without the agent's lock changes nothing decided under it, and no
 * caller takes an agent lock itself. These rules are types, so the test
 * compiles small programs against src/storage with the TypeScript compiler
 * and asserts which ones the compiler refuses: it fails the day a view
 * grows a method it must not have (and when the allowed uses stop compiling).
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const MISUSES: Readonly<Record<string, string>> = {
  'a read takes an agent lock': `store.read((r) => r.lockAgents(['default:a1']))`,
  'a read writes preferences': `store.read((r) => r.preferences.delete('default', 'a1'))`,
  'a read marks a notification read': `store.read((r) => r.notifications.markRead('default', 'n1', now))`,
  'a read cancels deliveries': `store.read((r) => r.deliveries.cancelPending('default', 'a1', 'why', now))`,
  'a read deletes old rows': `store.read((r) => r.retention.deleteFinishedDeliveries(now, 1))`,
  'a write without the agent lock changes its preferences': `store.write((r) => r.preferences.delete('default', 'a1'))`,
  'a write without the agent lock stores a notification': `store.write((r) => r.notifications.insert(n))`,
  'a write without the agent lock enqueues a delivery': `store.write((r) => r.deliveries.enqueue(d))`,
  'a write without the agent lock takes a number in the hourly limit': `store.write((r) => r.rate.next('default', 'a1'))`,
  'a write without the agent lock replays deliveries': `store.write((r) => r.queue.replay(f, now))`,
  'a write without the agent lock joins a digest': `store.write((r) => r.digests.close('dlv_1'))`,
  'a write takes an agent lock': `store.write((r) => r.lockAgents(['default:a1']))`,
  "work under one agent's lock takes another agent's lock": `store.writeForAgent(a1, (r) => r.lockAgents(['default:a2']))`,
  "work under one agent's lock claims deliveries": `store.writeForAgent(a1, (r) => r.queue.claimDue('owner', { now, leaseMs: 1, limit: 1, agentMaxInFlight: 1 }))`,
};

const ALLOWED = [
  `store.read((r) => r.preferences.get('default', 'a1'))`,
  `store.write((r) => r.notifications.markRead('default', 'n1', now))`,
  `store.write((r) => r.queue.claimForRetry('default', 'dlv_1', 'owner', now, 1))`,
  `store.writeForAgent(a1, (r) => r.notifications.insert(n))`,
  `store.writeForAgent(a1, (r) => r.deliveries.enqueue(d))`,
  `store.writeForAgent(a1, (r) => r.preferences.delete('default', 'a1'))`,
  `store.writeForAgent(a1, (r) => r.queue.replay(f, now))`,
];

function program(uses: readonly string[]): string {
  return [
    `import type { Store } from './src/storage/database.js';`,
    `import type { Notification } from './src/domain/types.js';`,
    `import type { NewDelivery } from './src/storage/delivery-repository.js';`,
    `import type { ReplayFilter } from './src/storage/delivery-queue.js';`,
    `export function uses(store: Store, n: Notification, d: NewDelivery, f: ReplayFilter, now: Date): unknown[] {`,
    `  const a1 = { tenantId: 'default', agentId: 'a1' };`,
    `  return [`,
    ...uses.map((u) => `    ${u},`),
    `  ];`,
    `}`,
  ].join('\n');
}

/** The errors the compiler reports for each of `snippets`, compiled as one program each (in one compiler run). */
function diagnose(snippets: readonly string[]): string[][] {
  const files = new Map(snippets.map((s, i) => [join(root, `__store_view_${i}.ts`), program([s])]));
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  const host = ts.createCompilerHost(config.options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.readFile = (name) => files.get(name) ?? readFile(name);
  host.fileExists = (name) => files.has(name) || fileExists(name);
  const prog = ts.createProgram({ rootNames: [...files.keys()], options: { ...config.options, noEmit: true }, host });
  return [...files.keys()].map((name) => ts.getPreEmitDiagnostics(prog, prog.getSourceFile(name)).filter((d) => d.file?.fileName === name).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' ')));
}

test("the store's views refuse every write they must not allow, and allow the rest (checked by compiling against src/storage)", () => {
  const names = Object.keys(MISUSES);
  const results = diagnose([ALLOWED.join(',\n    '), ...names.map((n) => MISUSES[n]!)]);
  const [allowed, ...refused] = results;
  assert.deepEqual(allowed, [], 'the allowed uses compile');
  const accepted = names.filter((_, i) => refused[i]!.length === 0);
  assert.deepEqual(accepted, [], 'misuses the compiler accepted');
});

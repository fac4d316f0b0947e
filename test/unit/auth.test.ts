import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RPC_ROLES, type RpcName } from '../../src/auth/roles.js';
import { checkTenantId, isTenantId } from '../../src/auth/tenant.js';
import { authorize, parseTokenEntries, TokenEntryError, TokenRegistry, type Caller } from '../../src/auth/tokens.js';
import { HeraldError } from '../../src/errors.js';
import { heraldServiceNames, loadHeraldPackageDefinition } from '../../src/grpc/proto.js';

const where = (i: number): string => `entry ${i + 1}`;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof HeraldError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'OK';
}

describe('RPC_ROLES', () => {
  test('names every RPC of every Herald service, and nothing else', () => {
    // The services as proto/manifest.json's files define them, not a list beside them.
    const definition = loadHeraldPackageDefinition();
    const rpcs = heraldServiceNames(definition).flatMap((service) => Object.keys(definition[service] as object));
    assert.deepEqual([...rpcs].sort(), Object.keys(RPC_ROLES).sort());
  });

  test('secrets (and deleting an agent, which drops its secret) need admin; reads need read; everything else needs write', () => {
    const byRole = (role: string): string[] => Object.entries(RPC_ROLES).filter(([, r]) => r === role).map(([m]) => m).sort();
    assert.deepEqual(byRole('admin'), ['DeletePreferences', 'GetEndpointSecret', 'GetWebhookSecret', 'RotateEndpointSecret', 'RotateWebhookSecret']);
    for (const m of byRole('read')) assert.match(m, /^(Get|List|Watch|Evaluate)/);
  });
});

describe('tenant ids', () => {
  const cases: Array<[string, boolean]> = [
    ['default', true],
    ['acme', true],
    ['a', true],
    ['0-team_x', true],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['', false],
    ['Acme', false],
    ['-acme', false],
    ['_acme', false],
    ['ac:me', false],
    ['ac me', false],
    ['acmé', false],
  ];
  for (const [id, ok] of cases) {
    test(`${JSON.stringify(id.length > 20 ? `${id.slice(0, 10)}…(${id.length})` : id)} is ${ok ? '' : 'not '}a tenant id`, () => {
      assert.equal(isTenantId(id), ok);
    });
  }

  test('a bad one is INVALID_ARGUMENT naming the field, quoting at most 20 characters', () => {
    const message = codeOf(() => checkTenantId('x-herald-tenant', `BAD${'x'.repeat(500)}`));
    assert.match(message, /^INVALID_ARGUMENT: x-herald-tenant: "BADx{17}…" is not a tenant id/);
  });
});

describe('parseTokenEntries', () => {
  test('bare tokens are operators; TENANT:ROLE:TOKEN is scoped and the token may contain colons', () => {
    const tokens = parseTokenEntries(['operator-token-0001', 'acme:read:reader-token-0001', 'acme:admin:admin:token:0001'], where);
    assert.deepEqual(tokens.map((t) => [t.tenant, t.role, t.digest.length]), [
      [null, 'operator', 32],
      ['acme', 'read', 32],
      ['acme', 'admin', 32],
    ]);
  });

  const bad: Array<[string, RegExp]> = [
    ['short', /at least 16/],
    ['acme:writer:token-token-token-1', /TENANT:ROLE:TOKEN/],
    ['acme:operator:token-token-token-1', /TENANT:ROLE:TOKEN/],
    ['ACME:read:token-token-token-1', /TENANT:ROLE:TOKEN/],
    ['acme:read', /TENANT:ROLE:TOKEN/],
    ['acme:read:short', /at least 16/],
    ['acme:read:token token token 1', /printable ASCII/],
  ];
  for (const [entry, why] of bad) {
    test(`refuses ${JSON.stringify(entry)} without quoting the token`, () => {
      assert.throws(
        () => parseTokenEntries(['fine-operator-token-1', entry], where),
        (err: Error) => err instanceof TokenEntryError && why.test(err.message) && err.message.startsWith('entry 2:') && !err.message.includes('token-token'),
      );
    });
  }

  test('refuses the same token twice, even with different roles', () => {
    assert.throws(() => parseTokenEntries(['acme:read:same-token-000001', 'beta:admin:same-token-000001'], where), /entry 2: the same token appears twice/);
  });
});

describe('TokenRegistry.callerFor', () => {
  const registry = new TokenRegistry(
    parseTokenEntries(['operator-token-0001', 'acme:read:acme-reader-00001', 'acme:write:acme-writer-00001', 'beta:admin:beta-admin-000001'], where),
  );
  const bearer = (t: string): string => `Bearer ${t}`;
  const cases: Array<[string, string | undefined, string | undefined, string]> = [
    ['no token', undefined, undefined, 'UNAUTHENTICATED'],
    ['an unknown token', bearer('not-a-known-token-1'), undefined, 'UNAUTHENTICATED'],
    ['a token without the Bearer scheme', 'operator-token-0001', undefined, 'UNAUTHENTICATED'],
    ['the operator, no tenant named', bearer('operator-token-0001'), undefined, 'default/operator'],
    ['the operator naming acme', bearer('operator-token-0001'), 'acme', 'acme/operator'],
    ['the operator, bearer in lower case', 'bearer operator-token-0001', 'beta', 'beta/operator'],
    ['the operator naming a malformed tenant', bearer('operator-token-0001'), 'ACME', 'INVALID_ARGUMENT'],
    ['acme read, no tenant named', bearer('acme-reader-00001'), undefined, 'acme/read'],
    ['acme write naming acme', bearer('acme-writer-00001'), 'acme', 'acme/write'],
    ['acme write naming beta', bearer('acme-writer-00001'), 'beta', 'PERMISSION_DENIED'],
    ['acme write naming default', bearer('acme-writer-00001'), 'default', 'PERMISSION_DENIED'],
    ['beta admin, no tenant named', bearer('beta-admin-000001'), undefined, 'beta/admin'],
  ];
  for (const [name, auth, tenant, expected] of cases) {
    test(`${name}: ${expected}`, () => {
      let got: string;
      try {
        const c = registry.callerFor(auth, tenant);
        got = `${c.tenant}/${c.role}`;
      } catch (err) {
        got = (err as HeraldError).code;
      }
      assert.equal(got, expected);
    });
  }

  test('with no tokens configured every caller is an operator of the tenant it names', () => {
    const open = new TokenRegistry([]);
    assert.deepEqual(open.callerFor(undefined, undefined), { tenant: 'default', role: 'operator' });
    assert.deepEqual(open.callerFor(undefined, 'acme'), { tenant: 'acme', role: 'operator' });
    assert.match(codeOf(() => open.callerFor(undefined, 'not valid')), /^INVALID_ARGUMENT/);
  });

  test('a token file set but empty lets nobody in', () => {
    const closed = new TokenRegistry([], true);
    assert.match(codeOf(() => closed.callerFor(bearer('operator-token-0001'), undefined)), /^UNAUTHENTICATED/);
  });

  test('replace swaps the tokens in place', () => {
    const r = new TokenRegistry(parseTokenEntries(['old-operator-token-1'], where));
    r.replace(parseTokenEntries(['acme:read:new-reader-token-1'], where));
    assert.match(codeOf(() => r.callerFor(bearer('old-operator-token-1'), undefined)), /^UNAUTHENTICATED/);
    assert.deepEqual(r.callerFor(bearer('new-reader-token-1'), undefined), { tenant: 'acme', role: 'read' });
  });
});

describe('authorize', () => {
  const roles: Caller['role'][] = ['read', 'write', 'admin', 'operator'];
  const expected: Record<Caller['role'], (needed: string) => boolean> = {
    read: (n) => n === 'read',
    write: (n) => n !== 'admin',
    admin: () => true,
    operator: () => true,
  };
  for (const role of roles) {
    test(`${role} may call exactly the RPCs its role covers`, () => {
      for (const [method, needed] of Object.entries(RPC_ROLES)) {
        const result = codeOf(() => authorize({ tenant: 'acme', role }, method as RpcName));
        assert.equal(result === 'OK', expected[role](needed), `${role} → ${method}`);
      }
    });
  }

  test('the refusal names the role needed and the role the token has', () => {
    assert.equal(codeOf(() => authorize({ tenant: 'acme', role: 'write' }, 'GetWebhookSecret')), 'PERMISSION_DENIED: GetWebhookSecret needs the admin role; this token has write');
  });
});

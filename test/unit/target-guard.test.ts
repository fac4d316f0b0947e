import assert from 'node:assert/strict';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { describe, it } from 'node:test';
import { parseAddress, parseCidr } from '../../src/domain/cidr.js';
import {
  isLocalhostName,
  pinnedLookup,
  refusedRange,
  TargetGuard,
  type LookupFunction,
} from '../../src/delivery/target-guard.js';
import { InvalidArgumentError } from '../../src/errors.js';

/**
 * Every refused range with an address just inside each end and, where the neighbour is
 * public, one just outside. `name` is a fragment of the range's name.
 */
const RANGES: ReadonlyArray<{ name: string; inside: string[]; outside: string[]; privateUse: boolean }> = [
  { name: 'this network', inside: ['0.0.0.0', '0.255.255.255'], outside: ['1.0.0.0'], privateUse: false },
  { name: 'private (10.0.0.0/8)', inside: ['10.0.0.0', '10.255.255.255'], outside: ['9.255.255.255', '11.0.0.0'], privateUse: true },
  { name: 'carrier-grade NAT', inside: ['100.64.0.0', '100.127.255.255'], outside: ['100.63.255.255', '100.128.0.0'], privateUse: true },
  { name: 'loopback (127', inside: ['127.0.0.0', '127.0.0.1', '127.255.255.255'], outside: ['126.255.255.255', '128.0.0.0'], privateUse: true },
  { name: 'cloud metadata service (169.254.169.254/32)', inside: ['169.254.169.254'], outside: [], privateUse: false },
  { name: 'link-local (cloud', inside: ['169.254.0.0', '169.254.169.253', '169.254.170.2', '169.254.255.255'], outside: ['169.253.255.255', '169.255.0.0'], privateUse: false },
  { name: 'private (172.16.0.0/12)', inside: ['172.16.0.0', '172.31.255.255'], outside: ['172.15.255.255', '172.32.0.0'], privateUse: true },
  { name: 'IETF protocol assignments', inside: ['192.0.0.0', '192.0.0.255'], outside: ['191.255.255.255', '192.0.1.0'], privateUse: false },
  { name: 'TEST-NET-1', inside: ['192.0.2.0', '192.0.2.255'], outside: ['192.0.1.255', '192.0.3.0'], privateUse: false },
  { name: '6to4 relay anycast', inside: ['192.88.99.0', '192.88.99.255'], outside: ['192.88.98.255', '192.88.100.0'], privateUse: false },
  { name: 'private (192.168.0.0/16)', inside: ['192.168.0.0', '192.168.255.255'], outside: ['192.167.255.255', '192.169.0.0'], privateUse: true },
  { name: 'benchmarking (198.18.0.0/15)', inside: ['198.18.0.0', '198.19.255.255'], outside: ['198.17.255.255', '198.20.0.0'], privateUse: false },
  { name: 'TEST-NET-2', inside: ['198.51.100.0', '198.51.100.255'], outside: ['198.51.99.255', '198.51.101.0'], privateUse: false },
  { name: 'TEST-NET-3', inside: ['203.0.113.0', '203.0.113.255'], outside: ['203.0.112.255', '203.0.114.0'], privateUse: false },
  { name: 'multicast (224', inside: ['224.0.0.0', '239.255.255.255'], outside: ['223.255.255.255'], privateUse: false },
  { name: 'reserved (240', inside: ['240.0.0.0', '255.255.255.254'], outside: [], privateUse: false },
  { name: 'broadcast', inside: ['255.255.255.255'], outside: [], privateUse: false },
  // IPv6
  { name: 'unspecified', inside: ['::', '0:0:0:0:0:0:0:0'], outside: [], privateUse: false },
  { name: 'loopback (::1/128)', inside: ['::1', '[::1]', '0:0:0:0:0:0:0:1'], outside: [], privateUse: true },
  { name: 'IPv4-compatible', inside: ['::2', '::8.8.8.8', '::a00:1', '::ffff:ffff'], outside: [], privateUse: false },
  { name: 'local-use NAT64', inside: ['64:ff9b:1::', '64:ff9b:1:ffff:ffff:ffff:ffff:ffff'], outside: ['64:ff9b:2::808:808'], privateUse: false },
  { name: 'discard-only', inside: ['100::', '100::ffff:ffff:ffff:ffff'], outside: [], privateUse: false },
  { name: 'Teredo', inside: ['2001::', '2001:0:ffff:ffff:ffff:ffff:ffff:ffff'], outside: ['2001:1::1'], privateUse: false },
  { name: 'benchmarking (2001:2::/48)', inside: ['2001:2::', '2001:2:0:ffff::1'], outside: ['2001:2:1::1'], privateUse: false },
  { name: 'ORCHIDv2', inside: ['2001:20::', '2001:2f:ffff::1'], outside: ['2001:30::1'], privateUse: false },
  { name: 'documentation (2001:db8::/32)', inside: ['2001:db8::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'], outside: ['2001:db7:ffff::1', '2001:db9::'], privateUse: false },
  { name: 'documentation (3fff::/20)', inside: ['3fff::', '3fff:fff:ffff::1'], outside: ['3ffe:ffff::1', '3fff:1000::'], privateUse: false },
  { name: 'cloud metadata service (fd00:ec2::254/128)', inside: ['fd00:ec2::254'], outside: [], privateUse: false },
  { name: 'unique local', inside: ['fc00::', 'fd00:ec2::253', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], outside: [], privateUse: true },
  { name: 'link-local (fe80::/10)', inside: ['fe80::', 'fe80::1%eth0', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], outside: [], privateUse: false },
  { name: 'site-local', inside: ['fec0::', 'feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], outside: [], privateUse: true },
  { name: 'multicast (ff00::/8)', inside: ['ff00::', 'ff02::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], outside: [], privateUse: false },
  { name: 'outside global unicast', inside: ['1::', '1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '4000::1', 'fbff::1', '5f00::1'], outside: ['2000::', '3ffe::1'], privateUse: false },
];

/** Public addresses, including every embedding form around a public IPv4 address. */
const PUBLIC = [
  '8.8.8.8', '1.1.1.1', '93.184.215.14', '100.63.255.255', '223.255.255.255',
  '2606:4700:4700::1111', '2a00:1450:4001::200e', '2001:1::1', '2001:4860:4860::8888',
  '::ffff:8.8.8.8', '::ffff:808:808', '::ffff:0:8.8.8.8', '64:ff9b::8.8.8.8', '64:ff9b::808:808', '2002:808:808::1',
];

/** IPv6 forms carrying a refused IPv4 address, with that address's range. */
const EMBEDDED: ReadonlyArray<[address: string, form: string, inner: string, privateUse: boolean]> = [
  ['::ffff:127.0.0.1', 'IPv4-mapped', 'loopback', true],
  ['::ffff:7f00:1', 'IPv4-mapped', 'loopback', true],
  ['[::ffff:7f00:1]', 'IPv4-mapped', 'loopback', true],
  ['0:0:0:0:0:ffff:7f00:1', 'IPv4-mapped', 'loopback', true],
  ['::FFFF:A9FE:A9FE', 'IPv4-mapped', 'cloud metadata', false],
  ['::ffff:0:10.0.0.1', 'IPv4-translated', 'private', true],
  ['::ffff:0:a00:1', 'IPv4-translated', 'private', true],
  ['64:ff9b::127.0.0.1', 'NAT64', 'loopback', true],
  ['64:ff9b::a9fe:a9fe', 'NAT64', 'cloud metadata', false],
  ['64:ff9b::c0a8:101', 'NAT64', 'private', true],
  ['2002:7f00:1::', '6to4', 'loopback', true],
  ['2002:c0a8:101::1', '6to4', 'private', true],
  ['2002:a9fe:a9fe:ffff:ffff:ffff:ffff:ffff', '6to4', 'cloud metadata', false],
  ['2002:e000:1::1', '6to4', 'multicast', false],
];

describe('refusedRange: the table', () => {
  for (const r of RANGES) {
    for (const address of r.inside) {
      it(`${address} is refused as ${r.name}`, () => {
        const range = refusedRange(address);
        assert.ok(range !== null, `${address} was not refused`);
        assert.ok(range.name.includes(r.name), `${address}: "${range.name}" does not name ${r.name}`);
        assert.equal(range.privateUse, r.privateUse);
      });
    }
    for (const address of r.outside) {
      it(`${address}, just outside ${r.name}, is not in it`, () => {
        assert.ok(!(refusedRange(address)?.name.includes(r.name) ?? false));
      });
    }
  }
  for (const address of PUBLIC) {
    it(`${address} is public`, () => {
      assert.equal(refusedRange(address), null);
    });
  }
  for (const [address, form, inner, privateUse] of EMBEDDED) {
    it(`${address} is refused: ${form} form of a ${inner} address`, () => {
      const range = refusedRange(address);
      assert.ok(range !== null, `${address} was not refused`);
      assert.ok(range.name.startsWith(form) && range.name.includes(inner), range.name);
      assert.equal(range.privateUse, privateUse);
    });
  }
  for (const text of ['127.1', '0x7f.0.0.1', '2130706433', 'localhost', '', '1.2.3.4.5', '::ffff:1.2.3', '[::1', 'fe80::1%']) {
    it(`${JSON.stringify(text)} is not an address, and is refused as such`, () => {
      assert.equal(parseAddress(text), null);
      assert.equal(refusedRange(text)?.name, 'not an IP address');
    });
  }
});

describe('WHATWG URL hostnames reach the table in canonical form', () => {
  const cases: Array<[written: string, hostname: string]> = [
    ['0x7f.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['0xa9.0xfe.0xa9.0xfe', '169.254.169.254'],
    ['[::ffff:127.0.0.1]', '[::ffff:7f00:1]'],
    ['[0:0:0:0:0:ffff:7f00:1]', '[::ffff:7f00:1]'],
    ['[::127.0.0.1]', '[::7f00:1]'],
  ];
  for (const [written, hostname] of cases) {
    it(`https://${written}/ has hostname ${hostname}, which is refused`, () => {
      const url = new URL(`https://${written}/`);
      assert.equal(url.hostname, hostname);
      assert.notEqual(refusedRange(url.hostname), null);
    });
  }
  it('refuses a zone id in a URL outright', () => {
    assert.throws(() => new URL('https://[fe80::1%25eth0]/'), TypeError);
  });
});

describe('parseCidr', () => {
  const good: Array<[string, 4 | 6, number]> = [
    ['10.20.0.0/16', 4, 16],
    ['127.0.0.0/8', 4, 8],
    ['0.0.0.0/0', 4, 0],
    ['169.254.169.254', 4, 32],
    ['fd00:1::/48', 6, 48],
    ['::/0', 6, 0],
    ['::1', 6, 128],
  ];
  for (const [text, family, bits] of good) {
    it(`reads ${text}`, () => {
      const cidr = parseCidr(text);
      assert.equal(cidr.family, family);
      assert.equal(cidr.bits, bits);
    });
  }
  const bad: Array<[string, RegExp]> = [
    ['10.20.1.0/16', /bits set after its \/16 prefix/],
    ['10.0.0.0/33', /between 0 and 32/],
    ['fd00::/129', /between 0 and 128/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/8/8', /prefix length/],
    ['10.0.0/8', /not an IPv4 or IPv6 range/],
    ['internal.example/8', /not an IPv4 or IPv6 range/],
    ['[fd00::]/8', /not an IPv4 or IPv6 range/],
    ['fe80::%eth0/64', /not an IPv4 or IPv6 range/],
    ['10.0.0.0/+8', /prefix length/],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${text}`, () => {
      assert.throws(() => parseCidr(text), (e: unknown) => e instanceof RangeError && message.test(e.message));
    });
  }
});

describe('TargetGuard.verdict: the operator\'s allowances', () => {
  it('HERALD_ALLOW_PRIVATE_TARGETS lifts loopback, private, CGNAT and unique local, and nothing else', () => {
    const guard = new TargetGuard({ allowHttp: false, allowPrivate: true });
    for (const address of ['127.0.0.1', '::1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', 'fd12::1', '::ffff:127.0.0.1', '64:ff9b::a00:1']) {
      assert.equal(guard.verdict(address), null, address);
    }
    for (const address of ['169.254.169.254', 'fd00:ec2::254', '169.254.170.2', 'fe80::1', '224.0.0.1', '255.255.255.255', '0.0.0.0', '192.0.2.1', '::ffff:169.254.169.254']) {
      assert.notEqual(guard.verdict(address), null, address);
    }
  });

  it('HERALD_ALLOWED_TARGET_CIDRS allows exactly its ranges, also in their IPv4-embedding forms', () => {
    const guard = new TargetGuard({ allowHttp: false, allowPrivate: false, allowedCidrs: ['10.20.0.0/16', '169.254.169.254/32', 'fd00:1::/48'] });
    for (const address of ['10.20.0.1', '10.20.255.255', '::ffff:10.20.3.4', '64:ff9b::a14:304', '169.254.169.254', 'fd00:1::5']) {
      assert.equal(guard.verdict(address), null, address);
    }
    for (const address of ['10.21.0.1', '10.19.255.255', '127.0.0.1', '169.254.169.253', 'fd00:2::5', '::1']) {
      assert.notEqual(guard.verdict(address), null, address);
    }
  });

  it('never refuses a public address', () => {
    const guard = new TargetGuard({ allowHttp: false, allowPrivate: false });
    for (const address of PUBLIC) assert.equal(guard.verdict(address), null, address);
  });
});

function lookupOf(table: Record<string, string[]>): LookupFunction & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (hostname: string): Promise<LookupAddress[]> => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(fn, { calls });
}

describe('TargetGuard.resolve', () => {
  it('checks a literal without asking the resolver', async () => {
    const lookup = lookupOf({});
    const guard = new TargetGuard({ allowHttp: false, allowPrivate: false, lookup });
    assert.equal((await guard.resolve('127.0.0.1', { timeoutMs: 1000 })).kind, 'refused');
    assert.equal((await guard.resolve('[::ffff:7f00:1]', { timeoutMs: 1000 })).kind, 'refused');
    assert.deepEqual(await guard.resolve('8.8.8.8', { timeoutMs: 1000 }), { kind: 'allowed', addresses: [{ address: '8.8.8.8', family: 4 }], nonPublic: false });
    assert.deepEqual(lookup.calls, []);
  });

  it('refuses a name when any answer is refused, and marks allowed non-public answers', async () => {
    const lookup = lookupOf({ 'mixed.test': ['8.8.8.8', '10.0.0.1'], 'public.test': ['8.8.8.8', '2606:4700::1'], 'office.test': ['10.0.0.1'] });
    const strict = new TargetGuard({ allowHttp: false, allowPrivate: false, lookup });
    assert.deepEqual(await strict.resolve('mixed.test', { timeoutMs: 1000 }), { kind: 'refused', address: '10.0.0.1', range: 'private (10.0.0.0/8)' });
    assert.deepEqual(await strict.resolve('public.test', { timeoutMs: 1000 }), {
      kind: 'allowed',
      addresses: [{ address: '8.8.8.8', family: 4 }, { address: '2606:4700::1', family: 6 }],
      nonPublic: false,
    });
    const permissive = new TargetGuard({ allowHttp: false, allowPrivate: true, lookup });
    assert.deepEqual(await permissive.resolve('office.test', { timeoutMs: 1000 }), { kind: 'allowed', addresses: [{ address: '10.0.0.1', family: 4 }], nonPublic: true });
  });

  it('answers unresolved for a failing, empty or hanging resolver, and aborted for a cancelled attempt', async () => {
    const failing = new TargetGuard({ allowHttp: false, allowPrivate: false, lookup: lookupOf({ 'empty.test': [] }) });
    assert.equal((await failing.resolve('missing.test', { timeoutMs: 1000 })).kind, 'unresolved');
    assert.equal((await failing.resolve('empty.test', { timeoutMs: 1000 })).kind, 'unresolved');
    const throwing = new TargetGuard({ allowHttp: false, allowPrivate: false, lookup: () => { throw new Error('resolver bug'); } });
    assert.equal((await throwing.resolve('any.test', { timeoutMs: 1000 })).kind, 'unresolved');
    const hanging = new TargetGuard({ allowHttp: false, allowPrivate: false, lookup: () => new Promise<never>(() => undefined) });
    assert.deepEqual(await hanging.resolve('slow.test', { timeoutMs: 20 }), { kind: 'unresolved', reason: 'no DNS answer within 20 ms' });
    const controller = new AbortController();
    const pending = hanging.resolve('slow.test', { timeoutMs: 60_000, signal: controller.signal });
    controller.abort();
    assert.deepEqual(await pending, { kind: 'aborted' });
  });

  it('asks the resolver for a fully qualified name without its final dot', async () => {
    const lookup = lookupOf({ 'internal-svc.test': ['127.0.0.1'] });
    const guard = new TargetGuard({ allowHttp: false, allowPrivate: false, lookup });
    assert.equal((await guard.resolve('internal-svc.test.', { timeoutMs: 1000 })).kind, 'refused');
    assert.deepEqual(lookup.calls, ['internal-svc.test']);
  });
});

describe('TargetGuard.checkWebhookUrl (write time)', () => {
  const lookup = lookupOf({ 'internal-svc.test': ['127.0.0.1'], 'hooks.test': ['8.8.8.8'], localhost: ['127.0.0.1'] });
  const strict = new TargetGuard({ allowHttp: true, allowPrivate: false, lookup });
  const refused = async (guard: TargetGuard, url: string): Promise<string> => {
    try {
      await guard.checkWebhookUrl('preferences.webhook_url', url);
    } catch (e) {
      assert.ok(e instanceof InvalidArgumentError, String(e));
      return e.message;
    }
    assert.fail(`${url} was accepted`);
  };

  it('refuses a literal, naming its range', async () => {
    assert.match(await refused(strict, 'https://169.254.169.254/latest/meta-data'), /cloud metadata/);
    assert.match(await refused(strict, 'https://0x7f.1/'), /"127\.0\.0\.1".*loopback/);
  });

  it('refuses a name that resolves to a refused address, without showing the address', async () => {
    const message = await refused(strict, 'https://internal-svc.test:8443/admin');
    assert.match(message, /"internal-svc\.test"/);
    assert.doesNotMatch(message, /127\.0\.0\.1/);
  });

  it('accepts a public name, and a name that does not resolve (yet): every send checks again', async () => {
    await strict.checkWebhookUrl('f', 'https://hooks.test/x');
    await strict.checkWebhookUrl('f', 'https://not-yet.test/x');
  });

  it('refuses a localhost name even when the resolver does not know it', async () => {
    const empty = new TargetGuard({ allowHttp: false, allowPrivate: false, lookup: lookupOf({}) });
    await refused(empty, 'https://app.localhost/');
    await refused(strict, 'https://localhost./');
    assert.ok(isLocalhostName('LOCALHOST.') && isLocalhostName('a.b.localhost') && !isLocalhostName('localhost.example'));
  });

  it('checks the URL syntax and scheme first', async () => {
    const noHttp = new TargetGuard({ allowHttp: false, allowPrivate: true, lookup });
    assert.match(await refused(noHttp, 'http://hooks.test/'), /HERALD_ALLOW_HTTP_TARGETS/);
    assert.match(await refused(strict, 'https://user:pw@hooks.test/'), /credentials/);
  });
});

describe('pinnedLookup', () => {
  const addresses: LookupAddress[] = [{ address: '203.0.113.7', family: 4 }, { address: '2001:db8::7', family: 6 }];
  const ask = (options: LookupOptions): Promise<unknown[]> =>
    new Promise((resolve) => {
      pinnedLookup(addresses)('any.test', options, (...args: unknown[]) => resolve(args));
    });

  it('answers every checked address for all: true (happy eyeballs), and only those', async () => {
    assert.deepEqual(await ask({ all: true }), [null, addresses]);
  });
  it('answers the first checked address of the asked family', async () => {
    assert.deepEqual(await ask({}), [null, '203.0.113.7', 4]);
    assert.deepEqual(await ask({ family: 6 }), [null, '2001:db8::7', 6]);
  });
  it('fails when no checked address has the asked family, rather than resolving', async () => {
    const pinned = pinnedLookup([{ address: '203.0.113.7', family: 4 }]);
    const [error] = await new Promise<unknown[]>((resolve) => pinned('any.test', { family: 6 }, (...args: unknown[]) => resolve(args)));
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOTFOUND');
  });
});

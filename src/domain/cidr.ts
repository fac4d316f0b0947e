/**
 * IP addresses and CIDR ranges as numbers: the arithmetic the outbound guard
 * (delivery/target-guard.ts) judges addresses with, and the parser that
 * config.ts validates HERALD_ALLOWED_TARGET_CIDRS with. Pure: node:net's
 * `isIP` is a string check, no lookup.
 */
import { isIP } from 'node:net';

/** A parsed CIDR range. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly base: bigint;
  readonly bits: number;
}

/** Address width in bits, per family. */
const ADDRESS_WIDTH = { 4: 32, 6: 128 } as const;

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6Value(text: string): bigint {
  const groups = (s: string): number[] =>
    s === ''
      ? []
      : s.split(':').flatMap((g) => {
          if (!g.includes('.')) return [Number.parseInt(g, 16)];
          const v = Number(ipv4Value(g));
          return [v >>> 16, v & 0xffff];
        });
  const gap = text.indexOf('::');
  const left = groups(gap < 0 ? text : text.slice(0, gap));
  const right = gap < 0 ? [] : groups(text.slice(gap + 2));
  const all = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/**
 * An IP address in canonical numeric form, or null when `text` is not one. Brackets
 * (`[::1]`, as URLs write IPv6 hosts) and an IPv6 zone id (`fe80::1%eth0`) are dropped.
 * Only the forms node:net's `isIP` accepts count: dotted-decimal IPv4 and RFC 4291 IPv6.
 * Shorthands such as `127.1` or `0x7f.0.0.1` are not addresses here; WHATWG URL parsing
 * has already turned them into `127.0.0.1` in a URL's hostname, and a resolver answers
 * canonical addresses.
 */
export function parseAddress(text: string): { family: 4 | 6; value: bigint } | null {
  let host = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = host.indexOf('%');
  if (zone >= 0 && isIP(host) === 6) host = host.slice(0, zone);
  const family = isIP(host);
  if (family === 4) return { family: 4, value: ipv4Value(host) };
  if (family === 6) return { family: 6, value: ipv6Value(host.toLowerCase()) };
  return null;
}

/**
 * Parses `a.b.c.d/n` or `x:y::/n` (a bare address means one host). The bits after the
 * prefix must be zero, so a typo such as `10.20.1.0/16` is caught instead of silently
 * meaning `10.20.0.0/16`.
 *
 * @throws RangeError with a message naming the problem.
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseAddress(addressText);
  if (address === null || addressText.startsWith('[') || addressText.includes('%')) {
    throw new RangeError(`"${text.slice(0, 60)}" is not an IPv4 or IPv6 range such as 10.20.0.0/16 or fd00:1234::/32`);
  }
  const width = ADDRESS_WIDTH[address.family];
  const bitsText = slash < 0 ? String(width) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > width) {
    throw new RangeError(`"${text.slice(0, 60)}" needs a prefix length between 0 and ${width} after the /`);
  }
  const bits = Number(bitsText);
  const hostBits = BigInt(width - bits);
  if ((address.value & ((1n << hostBits) - 1n)) !== 0n) {
    throw new RangeError(`"${text.slice(0, 60)}" has bits set after its /${bits} prefix; write the range's first address`);
  }
  return { family: address.family, base: address.value, bits };
}

/** Whether the address `value` of `family` lies in `range`. */
export function cidrContains(range: Cidr, family: 4 | 6, value: bigint): boolean {
  if (range.family !== family) return false;
  const shift = BigInt(ADDRESS_WIDTH[family] - range.bits);
  return value >> shift === range.base >> shift;
}

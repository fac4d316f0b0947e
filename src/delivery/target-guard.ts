/**
 * The outbound guard: the one place that decides whether Herald may connect
 * to an address. It holds the table of refused ranges, the operator's
 * allow-list, and the resolving and pinning of webhook hosts; write-time
 * validation and the sender both ask it, and nothing else parses addresses.
 *
 * The table ({@link refusedRange}) and the address arithmetic (domain/cidr.ts)
 * are pure, so they are tested on their own; {@link TargetGuard} adds the
 * operator's settings and the resolver.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction as NetLookupFunction } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { cidrContains, parseAddress, parseCidr, type Cidr } from '../domain/cidr.js';
import { checkWebhookUrlSyntax, quote } from '../domain/validation.js';

/** A refused range an address falls in. */
export interface RefusedRange {
  /** What the range is, for logs and write-time messages about literals, e.g. `"loopback (127.0.0.0/8)"`. */
  readonly name: string;
  /**
   * True when HERALD_ALLOW_PRIVATE_TARGETS lifts the refusal (loopback, RFC 1918, CGNAT,
   * unique local). Link-local, cloud metadata, multicast, broadcast and reserved space are
   * never lifted by that flag: only an explicit HERALD_ALLOWED_TARGET_CIDRS entry allows them.
   */
  readonly privateUse: boolean;
  /** For an IPv6 form that carries an IPv4 address (mapped, NAT64, 6to4…), that address. */
  readonly embeddedIPv4?: bigint;
}

interface RangeEntry extends Cidr {
  readonly name: string;
  readonly privateUse: boolean;
}

/** How an IPv6 prefix carries an IPv4 address: the bit offset of its 32 bits from the right. */
interface EmbeddingEntry extends Cidr {
  readonly name: string;
  readonly shift: bigint;
}

function entry(cidr: string, name: string, privateUse: boolean): RangeEntry {
  return { ...parseCidr(cidr), name: `${name} (${cidr})`, privateUse };
}

/**
 * IPv4 ranges Herald refuses, most specific first (the first match names the refusal).
 * Sources: the IANA IPv4 Special-Purpose Address Registry, RFC 1122, RFC 1918, RFC 5737,
 * RFC 6598, RFC 919 (broadcast), and the cloud providers' metadata address.
 */
const IPV4_REFUSED: readonly RangeEntry[] = [
  entry('0.0.0.0/8', '"this network" (Linux connects 0.0.0.0 to the local host)', false),
  entry('10.0.0.0/8', 'private', true),
  entry('100.64.0.0/10', 'carrier-grade NAT shared space', true),
  entry('127.0.0.0/8', 'loopback', true),
  entry('169.254.169.254/32', 'cloud metadata service', false),
  entry('169.254.0.0/16', 'link-local (cloud metadata and credential endpoints live here)', false),
  entry('172.16.0.0/12', 'private', true),
  entry('192.0.0.0/24', 'IETF protocol assignments', false),
  entry('192.0.2.0/24', 'documentation (TEST-NET-1)', false),
  entry('192.88.99.0/24', 'deprecated 6to4 relay anycast', false),
  entry('192.168.0.0/16', 'private', true),
  entry('198.18.0.0/15', 'benchmarking', false),
  entry('198.51.100.0/24', 'documentation (TEST-NET-2)', false),
  entry('203.0.113.0/24', 'documentation (TEST-NET-3)', false),
  entry('224.0.0.0/4', 'multicast', false),
  entry('255.255.255.255/32', 'broadcast', false),
  entry('240.0.0.0/4', 'reserved', false),
];

/**
 * IPv6 ranges refused outright, most specific first. The forms that carry an IPv4 address
 * are judged by that address instead ({@link IPV6_EMBEDDING}); whatever matches neither and
 * lies outside the global unicast space 2000::/3 is refused as reserved (IANA has assigned
 * nothing else for global use), so a range this list forgets is still refused.
 */
const IPV6_REFUSED: readonly RangeEntry[] = [
  entry('::/128', 'unspecified', false),
  entry('::1/128', 'loopback', true),
  // Deprecated by RFC 4291 and never a real destination, whatever IPv4 address it carries.
  entry('::/96', 'IPv4-compatible (deprecated)', false),
  entry('64:ff9b:1::/48', 'local-use NAT64', false),
  entry('100::/64', 'discard-only', false),
  // Teredo embeds an arbitrary (obfuscated) IPv4 server and client; no receiver lives there.
  entry('2001::/32', 'Teredo', false),
  entry('2001:2::/48', 'benchmarking', false),
  entry('2001:20::/28', 'ORCHIDv2', false),
  entry('2001:db8::/32', 'documentation', false),
  entry('3fff::/20', 'documentation', false),
  entry('fd00:ec2::254/128', 'cloud metadata service', false),
  entry('fc00::/7', 'unique local', true),
  entry('fe80::/10', 'link-local', false),
  entry('fec0::/10', 'site-local (deprecated)', true),
  entry('ff00::/8', 'multicast', false),
];

const IPV6_EMBEDDING: readonly EmbeddingEntry[] = [
  { ...parseCidr('::ffff:0:0/96'), name: 'IPv4-mapped', shift: 0n },
  { ...parseCidr('::ffff:0:0:0/96'), name: 'IPv4-translated', shift: 0n },
  { ...parseCidr('64:ff9b::/96'), name: 'NAT64', shift: 0n },
  { ...parseCidr('2002::/16'), name: '6to4', shift: 80n },
];

const GLOBAL_UNICAST = parseCidr('2000::/3');

/**
 * The refused range `address` falls in, or null for a public address. Pure: the table
 * only, without the operator's allow-list (see {@link TargetGuard.verdict}). Text that is
 * not an IP address is refused as such.
 */
export function refusedRange(address: string): RefusedRange | null {
  const parsed = parseAddress(address);
  if (parsed === null) return { name: 'not an IP address', privateUse: false };
  const { family, value } = parsed;
  if (family === 4) return IPV4_REFUSED.find((r) => cidrContains(r, 4, value)) ?? null;
  const direct = IPV6_REFUSED.find((r) => cidrContains(r, 6, value));
  if (direct !== undefined) return direct;
  const embedding = IPV6_EMBEDDING.find((r) => cidrContains(r, 6, value));
  if (embedding !== undefined) {
    const ipv4 = (value >> embedding.shift) & 0xffff_ffffn;
    const inner = IPV4_REFUSED.find((r) => cidrContains(r, 4, ipv4));
    return inner === undefined ? null : { name: `${embedding.name} ${inner.name}`, privateUse: inner.privateUse, embeddedIPv4: ipv4 };
  }
  if (!cidrContains(GLOBAL_UNICAST, 6, value)) return { name: 'reserved (outside global unicast 2000::/3)', privateUse: false };
  return null;
}

/** `localhost` and `*.localhost` (RFC 6761: always the loopback), with or without the final dot. */
export function isLocalhostName(hostname: string): boolean {
  const host = hostname.replace(/\.$/, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost');
}

/** Resolves a host name to all its addresses, as `dns.lookup(name, { all: true })` does. */
export type LookupFunction = (hostname: string) => Promise<readonly LookupAddress[]>;

const defaultLookup: LookupFunction = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Options of {@link TargetGuard}: the operator's rules, read from the configuration at start. */
export interface TargetGuardOptions {
  /** HERALD_ALLOW_HTTP_TARGETS: accept `http://` URLs. */
  readonly allowHttp: boolean;
  /** HERALD_ALLOW_PRIVATE_TARGETS: lift the refusal of the ranges marked {@link RefusedRange.privateUse}. */
  readonly allowPrivate: boolean;
  /** HERALD_ALLOWED_TARGET_CIDRS: ranges allowed although the table refuses them (validated by {@link parseCidr}). */
  readonly allowedCidrs?: readonly string[];
  /** Resolver of host names; default node:dns `lookup` with `all: true`. Tests inject their own. */
  readonly lookup?: LookupFunction;
}

/** The answer for one host, at one attempt. */
export type TargetResolution =
  /** Connect only to these addresses (all checked). `nonPublic`: one is in a refused range the operator allowed. */
  | { readonly kind: 'allowed'; readonly addresses: readonly LookupAddress[]; readonly nonPublic: boolean }
  /** An address is refused; `address` and `range` are for the server log only. */
  | { readonly kind: 'refused'; readonly address: string; readonly range: string }
  /** The name did not resolve in time, or at all; `reason` is for the server log only. */
  | { readonly kind: 'unresolved'; readonly reason: string }
  | { readonly kind: 'aborted' };

/** How long a write waits for DNS before accepting the URL unchecked (the send-time check still applies). */
const WRITE_LOOKUP_TIMEOUT_MS = 2_000;

/** How an operator may allow a refused host: the private flag lifts only some ranges, so say which. */
function allowHint(privateUse: boolean | null): string {
  if (privateUse === true) return 'allow it with HERALD_ALLOW_PRIVATE_TARGETS=true, or only its range with HERALD_ALLOWED_TARGET_CIDRS';
  if (privateUse === false) return 'only an explicit HERALD_ALLOWED_TARGET_CIDRS entry allows it (HERALD_ALLOW_PRIVATE_TARGETS does not lift this range)';
  return 'allow its range with HERALD_ALLOWED_TARGET_CIDRS (HERALD_ALLOW_PRIVATE_TARGETS=true lifts loopback and private ranges only)';
}

/**
 * Decides whether Herald may connect to a webhook host, with the operator's settings.
 *
 * With several addresses for one name, the name is refused when any of them is refused:
 * a name that mixes public and internal addresses is a misconfiguration or a rebinding
 * attempt, and refusing it whole keeps the outcome independent of which address the
 * connection would try first.
 */
export class TargetGuard {
  readonly allowHttp: boolean;
  readonly #allowPrivate: boolean;
  readonly #allowed: readonly Cidr[];
  readonly #lookup: LookupFunction;

  constructor(options: TargetGuardOptions) {
    this.allowHttp = options.allowHttp;
    this.#allowPrivate = options.allowPrivate;
    this.#allowed = (options.allowedCidrs ?? []).map(parseCidr);
    this.#lookup = options.lookup ?? defaultLookup;
  }

  /** The refused range `address` falls in after the operator's allowances, or null when Herald may connect. */
  verdict(address: string): RefusedRange | null {
    const range = refusedRange(address);
    if (range === null) return null;
    if (this.#allowPrivate && range.privateUse) return null;
    const parsed = parseAddress(address);
    if (parsed === null) return range;
    const allowed = this.#allowed.some(
      (cidr) => cidrContains(cidr, parsed.family, parsed.value) || (range.embeddedIPv4 !== undefined && cidrContains(cidr, 4, range.embeddedIPv4)),
    );
    return allowed ? null : range;
  }

  /**
   * Why the URL's scheme is refused at send time, or null: `https:` always passes, `http:`
   * while HERALD_ALLOW_HTTP_TARGETS is on (a URL stored while it was on is refused after
   * it is turned off), anything else never.
   */
  refusedScheme(url: URL): string | null {
    if (url.protocol === 'https:' || (url.protocol === 'http:' && this.allowHttp)) return null;
    return url.protocol === 'http:'
      ? `http:// webhook URLs are refused while HERALD_ALLOW_HTTP_TARGETS is off (host "${url.hostname}")`
      : `only https:// and http:// webhook URLs are sent (host "${url.hostname}")`;
  }

  /**
   * Resolves `hostname` (a URL's hostname: IPv6 in brackets) once and checks every address.
   * A literal address is checked without DNS. Never throws.
   */
  async resolve(hostname: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<TargetResolution> {
    const literal = parseAddress(hostname);
    if (literal !== null) {
      const address = hostname.replace(/^\[|\]$/g, '');
      const range = this.verdict(address);
      if (range !== null) return { kind: 'refused', address, range: range.name };
      return { kind: 'allowed', addresses: [{ address, family: literal.family }], nonPublic: refusedRange(address) !== null };
    }
    const answer = await this.#lookupWithin(hostname, options.timeoutMs, options.signal);
    if (answer === 'aborted') return { kind: 'aborted' };
    if (typeof answer === 'string') return { kind: 'unresolved', reason: answer };
    for (const { address } of answer) {
      const range = this.verdict(address);
      if (range !== null) return { kind: 'refused', address, range: range.name };
    }
    return { kind: 'allowed', addresses: answer, nonPublic: answer.some(({ address }) => refusedRange(address) !== null) };
  }

  /**
   * The write-time check of a webhook URL: its syntax and scheme (domain/validation), then
   * its host. Literal addresses are judged as they are; a name is resolved, and refused
   * when it resolves to a refused address. A name that does not resolve (yet) is accepted,
   * since the receiver may not exist yet and every send checks again, except a localhost
   * name, which can only ever mean the loopback.
   *
   * @throws InvalidArgumentError naming `field`. The message never shows a resolved address.
   */
  async checkWebhookUrl(field: string, value: string): Promise<void> {
    const url = checkWebhookUrlSyntax(field, value, { allowHttp: this.allowHttp });
    const host = url.hostname;
    const literal = parseAddress(host);
    if (literal !== null) {
      const range = this.verdict(host.replace(/^\[|\]$/g, ''));
      if (range !== null) throw new InvalidArgumentError(field, `host ${quote(host)} is in a range Herald may not connect to: ${range.name}; ${allowHint(range.privateUse)}`);
      return;
    }
    const resolution = await this.resolve(host, { timeoutMs: WRITE_LOOKUP_TIMEOUT_MS });
    if (resolution.kind === 'refused' || (resolution.kind !== 'allowed' && isLocalhostName(host) && !this.#allowPrivate)) {
      throw new InvalidArgumentError(field, `host ${quote(host)} resolves to a loopback, private or reserved address that Herald may not connect to; ${allowHint(null)}`);
    }
  }

  async #lookupWithin(hostname: string, timeoutMs: number, signal?: AbortSignal): Promise<readonly LookupAddress[] | string | 'aborted'> {
    if (signal?.aborted === true) return 'aborted';
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    // getaddrinfo cannot be cancelled; the attempt stops waiting for it instead.
    const stop = new Promise<string | 'aborted'>((resolve) => {
      timer = setTimeout(() => resolve(`no DNS answer within ${timeoutMs} ms`), timeoutMs);
      onAbort = () => resolve('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    // Through a promise, so that a resolver that throws instead of rejecting is an answer too.
    const looked = Promise.resolve(hostname.replace(/\.$/, '')).then(this.#lookup).then(
      (addresses) => (addresses.length === 0 ? 'no addresses' : addresses),
      (error: unknown) => `lookup failed: ${errorCode(error) ?? String(error)}`,
    );
    try {
      return await Promise.race([looked, stop]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/**
 * A resolver for got's `dnsLookup` (node:net's `lookup`) that answers only `addresses`,
 * the ones the guard checked, so the connection cannot go anywhere else whatever DNS says
 * by the time it connects. It never resolves anything itself.
 */
export function pinnedLookup(addresses: readonly LookupAddress[]): NetLookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    // Asynchronous like a real lookup: net and got attach their listeners after calling it.
    process.nextTick(() => answerPinned(addresses, hostname, options, callback));
  };
}

function answerPinned(addresses: readonly LookupAddress[], hostname: string, options: LookupOptions, callback: Parameters<NetLookupFunction>[2]): void {
  const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family ?? 0);
  const usable = addresses.filter((a) => family === 0 || a.family === family);
  const first = usable[0];
  if (first === undefined) {
    const error: NodeJS.ErrnoException = new Error(`no checked address of family ${family} for ${hostname}`);
    error.code = 'ENOTFOUND';
    callback(error, '', 0);
    return;
  }
  if (options.all === true) callback(null, usable.map((a) => ({ ...a })));
  else callback(null, first.address, first.family);
}

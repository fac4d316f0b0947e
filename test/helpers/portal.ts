/**
 * A real Herald with its console (and so its portal) on 127.0.0.1:0, whose
 * JSON log lines are kept for the audit checks, and a browser stand-in for
 * the portal: one cookie jar, redirects not followed.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import type { HeraldClient } from '../../src/client.js';
import { createHeraldClient } from '../../src/client.js';
import { cleanup, startHerald, type Herald, type StartOptions } from './herald.js';

export const PORTAL_TOKENS = {
  operator: 'portal-operator-token-001',
  acmeAdmin: 'portal-acme-admin-token-1',
  acmeWrite: 'portal-acme-write-token-1',
  acmeRead: 'portal-acme-read-token-01',
} as const;

const TOKEN_ENV = [PORTAL_TOKENS.operator, `acme:admin:${PORTAL_TOKENS.acmeAdmin}`, `acme:write:${PORTAL_TOKENS.acmeWrite}`, `acme:read:${PORTAL_TOKENS.acmeRead}`].join(',');

export type LogLine = Record<string, unknown>;

export interface PortalHerald {
  readonly herald: Herald;
  /** `http://127.0.0.1:<port>` of the console and portal. */
  readonly base: string;
  /** The platform's backend: a gRPC client with tenant acme's admin token (its links may show endpoint secrets). */
  readonly platform: HeraldClient;
  /** Every log line written so far. */
  readonly lines: LogLine[];
  /** A gRPC client with the operator token acting on `tenant`. */
  grpc(tenant: string): HeraldClient;
  /** A gRPC client with `token`. */
  client(token: string): HeraldClient;
}

export async function startPortalHerald(t: TestContext, options: StartOptions = {}): Promise<PortalHerald> {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const herald = await startHerald(t, {
    ...options,
    log: pino({ level: 'info' }, stream),
    env: { HERALD_API_TOKENS: TOKEN_ENV, HERALD_CONSOLE_ADDRESS: '127.0.0.1:0', WEBHOOK_MAX_RETRIES: '0', ...options.env },
  });
  const port = herald.app.consolePort;
  assert.ok(port !== null, 'the console listens');
  const client = (token: string, tenant?: string): HeraldClient => {
    const c = createHeraldClient(herald.address, { token, ...(tenant === undefined ? {} : { tenant }) });
    cleanup(t, () => c.close());
    return c;
  };
  return { herald, base: `http://127.0.0.1:${port}`, platform: client(PORTAL_TOKENS.acmeAdmin), lines, grpc: (tenant) => client(PORTAL_TOKENS.operator, tenant), client: (token) => client(token) };
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** A browser stand-in for the portal: keeps the cookie any answer sets, sends the portal's own Origin on POSTs. */
export class PortalBrowser {
  cookie = '';

  constructor(readonly base: string) {}

  private keep(res: Response): void {
    const set = res.headers.get('set-cookie');
    if (set !== null) this.cookie = set.split(';')[0] ?? '';
  }

  /** GETs a path of the base, or a whole URL (a portal link). */
  async get(pathOrUrl: string): Promise<Answer> {
    const res = await fetch(pathOrUrl.startsWith('http') ? pathOrUrl : this.base + pathOrUrl, { redirect: 'manual', headers: this.cookie === '' ? {} : { cookie: this.cookie } });
    this.keep(res);
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  /** POSTs a form; `origin` null sends none. */
  async post(path: string, form: Record<string, string>, origin: string | null = this.base): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (this.cookie !== '') headers.cookie = this.cookie;
    if (origin !== null) headers.origin = origin;
    const res = await fetch(this.base + path, { method: 'POST', redirect: 'manual', headers, body: new URLSearchParams(form).toString() });
    this.keep(res);
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  /** Opens a portal link and expects the redirect to the clean URL. */
  async open(url: string): Promise<void> {
    const res = await this.get(url);
    assert.equal(res.status, 303, `the link opens (got ${res.status}: ${res.body.slice(0, 200)})`);
    assert.equal(res.headers.get('location'), '/portal/');
  }

  /** The CSRF token of the forms on `path`. */
  async csrf(path = '/portal/'): Promise<string> {
    const page = await this.get(path);
    const m = /name="_csrf" value="([^"]+)"/.exec(page.body);
    assert.ok(m?.[1], `a CSRF field on ${path} (status ${page.status})`);
    return m[1];
  }
}

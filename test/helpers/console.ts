/**
 * A real Herald with its operator console on 127.0.0.1:0, scoped and operator
 * tokens, and a plain-fetch browser stand-in that keeps the session cookie.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { HeraldClient } from '../../src/client.js';
import { createHeraldClient } from '../../src/client.js';
import { cleanup, startHerald, type Herald, type StartOptions } from './herald.js';

export const CONSOLE_TOKENS = {
  operator: 'console-operator-token-01',
  read: 'console-read-token-000001',
  write: 'console-write-token-00001',
  otherWrite: 'console-other-write-0001',
} as const;

const TOKEN_ENV = [CONSOLE_TOKENS.operator, `default:read:${CONSOLE_TOKENS.read}`, `default:write:${CONSOLE_TOKENS.write}`, `other:write:${CONSOLE_TOKENS.otherWrite}`].join(',');

export interface ConsoleHerald {
  readonly herald: Herald;
  /** `http://127.0.0.1:<port>` of the console. */
  readonly base: string;
  /** A gRPC client with the operator token, acting on tenant `tenant`. */
  grpc(tenant: string): HeraldClient;
  /** Stops this instance and starts another on the same database (its console on a new port). */
  restart(extraEnv?: Record<string, string>): Promise<ConsoleHerald>;
}

export async function startConsoleHerald(t: TestContext, options: StartOptions = {}): Promise<ConsoleHerald> {
  const herald = await startHerald(t, { ...options, env: { HERALD_API_TOKENS: TOKEN_ENV, HERALD_CONSOLE_ADDRESS: '127.0.0.1:0', WEBHOOK_MAX_RETRIES: '0', ...options.env } });
  return consoleOf(t, herald);
}

function consoleOf(t: TestContext, herald: Herald): ConsoleHerald {
  const port = herald.app.consolePort;
  assert.ok(port !== null, 'the console listens');
  return {
    herald,
    base: `http://127.0.0.1:${port}`,
    grpc(tenant) {
      const c = createHeraldClient(herald.address, { token: CONSOLE_TOKENS.operator, tenant });
      cleanup(t, () => c.close());
      return c;
    },
    async restart(extraEnv = {}) {
      return consoleOf(t, await herald.restart(extraEnv));
    },
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** A browser stand-in: one cookie jar, redirects not followed, so each answer can be checked. */
export class ConsoleSession {
  cookie = '';

  constructor(readonly base: string) {}

  async get(path: string): Promise<Answer> {
    const res = await fetch(this.base + path, { redirect: 'manual', headers: this.cookie === '' ? {} : { cookie: this.cookie } });
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  /** POSTs a form; sends the console's own Origin unless `origin` says otherwise (null: none). */
  async post(path: string, form: Record<string, string>, origin: string | null = this.base): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (this.cookie !== '') headers.cookie = this.cookie;
    if (origin !== null) headers.origin = origin;
    const res = await fetch(this.base + path, { method: 'POST', redirect: 'manual', headers, body: new URLSearchParams(form).toString() });
    const set = res.headers.get('set-cookie');
    if (set !== null) this.cookie = set.split(';')[0] ?? '';
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  async signIn(token: string, tenant = ''): Promise<Answer> {
    return this.post('/sign-in', { token, tenant });
  }

  /** The CSRF token of the forms on `path`. */
  async csrf(path = '/'): Promise<string> {
    const page = await this.get(path);
    const m = /name="_csrf" value="([^"]+)"/.exec(page.body);
    assert.ok(m?.[1], `a CSRF field on ${path}`);
    return m[1];
  }
}

/** Quiet hours from an hour ago to an hour from now, in UTC: the agent is quiet whenever the test runs. */
export function quietAroundNow(now = new Date()): { start: string; end: string } {
  const hhmm = (d: Date): string => `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
  return { start: hhmm(new Date(now.getTime() - 3_600_000)), end: hhmm(new Date(now.getTime() + 3_600_000)) };
}

/**
 * The fields a browser would submit from the form `id` on `page` as it is
 * rendered: text inputs with their values, checked checkboxes, and each
 * select's selected option (its first when none is selected).
 */
export function formFields(page: string, id: string): Record<string, string> {
  const form = new RegExp(`<form[^>]*id="${id}"[^>]*>([\\s\\S]*?)</form>`).exec(page)?.[1];
  assert.ok(form !== undefined, `a form with id ${id}`);
  const fields: Record<string, string> = {};
  for (const m of form.matchAll(/<input([^>]*)>/g)) {
    const attrs = m[1] ?? '';
    const name = /\sname="([^"]*)"/.exec(attrs)?.[1];
    if (name === undefined) continue;
    const value = /\svalue="([^"]*)"/.exec(attrs)?.[1] ?? '';
    if (/type="checkbox"/.test(attrs)) {
      if (/\schecked/.test(attrs)) fields[name] = value;
    } else fields[name] = value.replaceAll('&amp;', '&').replaceAll('&#39;', "'").replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  for (const m of form.matchAll(/<select name="([^"]+)">([\s\S]*?)<\/select>/g)) {
    const options = [...(m[2] ?? '').matchAll(/<option([^>]*)>([^<]*)<\/option>/g)].map((o) => ({ selected: /selected/.test(o[1] ?? ''), value: /value="([^"]*)"/.exec(o[1] ?? '')?.[1] ?? o[2] ?? '' }));
    fields[m[1] ?? ''] = (options.find((o) => o.selected) ?? options[0])?.value ?? '';
  }
  return fields;
}

/**
 * What the console and the portal (src/portal/) both need from a browser
 * request: its cookies, its form, and whether a POST came from our own
 * pages. Shared so the two keep one rule each; their sessions stay apart.
 */
import type http from 'node:http';
import { InvalidArgumentError } from '../errors.js';
import type { Html } from './html.js';

const MAX_FORM_BYTES = 16 * 1024;

export function cookieOf(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The url-encoded form of a POST, at most 16 KiB. */
export async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new InvalidArgumentError('form', 'must be sent as application/x-www-form-urlencoded');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new InvalidArgumentError('form', `is larger than ${MAX_FORM_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * A POST must come from our own pages: browsers send Origin with every form
 * POST; a request without Origin is accepted only when Sec-Fetch-Site, if
 * sent, says same-origin (non-browser clients send neither, and still need
 * the session cookie and CSRF token). `also` is one more origin that counts
 * as ours (the portal's public origin behind a proxy).
 */
export function sameOrigin(req: http.IncomingMessage, secure: boolean, also: string | null = null): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) {
    const site = req.headers['sec-fetch-site'];
    return site === undefined || site === 'same-origin' || site === 'none';
  }
  return origin === `${secure ? 'https' : 'http'}://${req.headers.host ?? ''}` || (also !== null && origin === also);
}

/**
 * Answers with an HTML page, never cached: `base` is the front end's own
 * security headers (the console's and the portal's differ in what may frame
 * them), `extra` any more; a HEAD gets the headers alone.
 */
export function sendPage(res: http.ServerResponse, status: number, page: Html, base: Readonly<Record<string, string>>, extra: Record<string, string> = {}, headOnly = false): void {
  res.writeHead(status, { ...base, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...extra });
  res.end(headOnly ? undefined : page.value);
}

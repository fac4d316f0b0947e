import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import got, { type Got, type Request } from 'got';
import type { SendErrorClass, SendResult } from '../domain/delivery-outcome.js';
import type { Logger } from '../logger.js';
import { pinnedLookup, type TargetGuard } from './target-guard.js';

/** Options of {@link WebhookSender}. */
export interface WebhookSenderOptions {
  /**
   * The outbound guard, built from the configuration at start: every send resolves the host
   * through it and connects only to the addresses it checked. Required, so that no sender
   * can exist that skips the check.
   */
  guard: TargetGuard;
  /**
   * Where the detail of refused and failed connections goes (resolved addresses, error codes
   * and messages), which attempt records never show. Default: not logged.
   */
  log?: Logger;
  /**
   * `User-Agent` sent when a request's own headers carry none (the signer's headers do),
   * so that got never announces itself, e.g. `Herald-Webhook/0.2.0+abc1234`.
   */
  userAgent: string;
  /**
   * Bytes of the response body kept for the attempt record (default 4096). Reading stops
   * there and the connection is dropped, so a huge or endless body costs at most this much.
   */
  maxResponseBytes?: number;
}

/** One webhook POST. */
export interface SendRequest {
  /** Absolute `http://` or `https://` URL. Redirects from it are not followed. */
  url: string;
  /** The exact bytes to send; they are what was signed. */
  body: Buffer;
  /** Request headers, e.g. from `signedHeaders`. Names are case-insensitive. */
  headers: Record<string, string>;
  /** Whole-request deadline (ms): connect, send and read the response up to the limit. */
  timeoutMs: number;
  /** Cancels the request (shutdown); the result is then an `aborted` error. */
  signal?: AbortSignal;
}

const DEFAULT_MAX_RESPONSE_BYTES = 4096;

const TLS_CODES: ReadonlySet<string> = new Set([
  'EPROTO',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'HOSTNAME_MISMATCH',
]);

/**
 * Posts signed webhooks with got 14 and reports every outcome as a {@link SendResult}.
 *
 * got makes exactly one attempt (`retry.limit` 0: retries are scheduled in the database),
 * never throws on a status code, never follows a redirect, and reads the response body as a
 * stream so that at most `maxResponseBytes` are buffered. Connections are kept alive
 * between deliveries to the same receiver; call {@link WebhookSender.close} to release them.
 */
export class WebhookSender {
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;
  readonly #got: Got;
  readonly #userAgent: string;
  readonly #maxResponseBytes: number;
  readonly #guard: TargetGuard;
  readonly #log: Logger | undefined;

  constructor(options: WebhookSenderOptions) {
    const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!Number.isSafeInteger(maxResponseBytes) || maxResponseBytes < 0) {
      throw new RangeError(`maxResponseBytes must be a non-negative integer, got ${maxResponseBytes}`);
    }
    this.#maxResponseBytes = maxResponseBytes;
    this.#guard = options.guard;
    this.#log = options.log;
    this.#userAgent = options.userAgent;
    this.#httpAgent = new http.Agent({ keepAlive: true });
    this.#httpsAgent = new https.Agent({ keepAlive: true });
    this.#got = got.extend({
      agent: { http: this.#httpAgent, https: this.#httpsAgent },
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      // Without Accept-Encoding receivers answer uncompressed, so the excerpt is readable
      // text and no decompressor runs on untrusted input.
      decompress: false,
      http2: false,
    });
  }

  /**
   * Sends one POST and resolves with what happened. Never rejects: transport failures,
   * timeouts and cancellation become `{ kind: 'error' }`.
   *
   * Once the status line and headers have arrived, the result is a response even if the
   * body then fails to arrive (reset, timeout, cancellation): the receiver has answered,
   * and the status is what decides the delivery.
   */
  async send(req: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const elapsed = (): number => performance.now() - started;
    if (req.signal?.aborted === true) {
      return { kind: 'error', errorClass: 'aborted', message: 'cancelled before sending', durationMs: elapsed() };
    }
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return { kind: 'error', errorClass: 'invalid_request', message: 'the webhook_url is not a valid absolute URL', durationMs: elapsed() };
    }
    const host = url.hostname;
    const headers = this.#headers(req.headers);
    const context = { deliveryId: headers['webhook-id'], host };

    const scheme = this.#guard.refusedScheme(url);
    if (scheme !== null) {
      return { kind: 'error', errorClass: 'target_refused', message: scheme, durationMs: elapsed() };
    }
    // One resolution per attempt, checked, and the connection pinned to its answer: DNS
    // changing between the check and the connect (rebinding) cannot move the request.
    const target = await this.#guard.resolve(host, { timeoutMs: req.timeoutMs, ...(req.signal ? { signal: req.signal } : {}) });
    switch (target.kind) {
      case 'aborted':
        return { kind: 'error', errorClass: 'aborted', message: 'cancelled before sending', durationMs: elapsed() };
      case 'refused':
        this.#log?.warn({ ...context, address: target.address, range: target.range }, 'webhook target refused by the outbound guard');
        return { kind: 'error', errorClass: 'target_refused', message: refusedMessage(host), durationMs: elapsed() };
      case 'unresolved':
        this.#log?.info({ ...context, reason: target.reason }, 'webhook host did not resolve');
        return { kind: 'error', errorClass: 'unreachable', message: unreachableMessage(host), durationMs: elapsed() };
      case 'allowed':
        break;
    }
    const fail = (error: unknown): SendResult => {
      const { errorClass, code, message } = describeError(error);
      const durationMs = elapsed();
      if (errorClass === 'aborted' || errorClass === 'invalid_request') return { kind: 'error', errorClass, message, durationMs };
      this.#log?.info({ ...context, addresses: target.addresses.map((a) => a.address), errorClass, code, error: message }, 'webhook connection failed');
      if (target.nonPublic) return { kind: 'error', errorClass: 'unreachable', message: unreachableMessage(host), durationMs };
      return { kind: 'error', errorClass, message: publicMessage(errorClass, code, host, req.timeoutMs), durationMs };
    };

    let stream: Request;
    try {
      stream = this.#got.stream.post(url, {
        body: req.body,
        headers,
        // What is left of the attempt's deadline after resolving.
        timeout: { request: Math.max(1, Math.round(req.timeoutMs - elapsed())) },
        dnsLookup: pinnedLookup(target.addresses),
        signal: req.signal,
      });
    } catch (error: unknown) {
      return fail(error);
    }

    const limit = this.#maxResponseBytes;
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      let status: { statusCode: number; headers: Record<string, string | string[] | undefined> } | undefined;
      const chunks: Buffer[] = [];
      let kept = 0;

      const settle = (result: SendResult): void => {
        if (settled) {
          return;
        }
        settled = true;
        resolve(result);
        // got leaves a finished stream undestroyed (autoDestroy is off), and only destroy
        // detaches its listener from `signal`: a long-lived shutdown signal shared by every
        // send would otherwise collect one listener per delivery. After a complete response
        // the socket has already gone back to the pool, so this does not cost keep-alive.
        stream.destroy();
      };
      const respond = (truncated: boolean): void => {
        if (status === undefined) {
          return;
        }
        settle({
          kind: 'response',
          statusCode: status.statusCode,
          headers: status.headers,
          bodyExcerpt: excerpt(Buffer.concat(chunks, kept), truncated),
          durationMs: elapsed(),
        });
      };

      stream.on('response', (response: http.IncomingMessage) => {
        status = { statusCode: response.statusCode ?? 0, headers: { ...response.headers } };
      });
      stream.on('data', (chunk: Buffer) => {
        if (settled) {
          return;
        }
        const room = limit - kept;
        if (chunk.length <= room) {
          chunks.push(chunk);
          kept += chunk.length;
          return;
        }
        chunks.push(chunk.subarray(0, room));
        kept += room;
        // Stop reading at the limit: settling destroys the stream, so the rest of the body is
        // never buffered, and the socket is dropped since a half-read response cannot be reused.
        respond(true);
      });
      stream.once('end', () => {
        respond(false);
      });
      // The listener stays for the stream's lifetime: an 'error' without one would crash.
      stream.on('error', (error: unknown) => {
        if (status !== undefined) {
          respond(true);
          return;
        }
        settle(fail(error));
      });
      stream.once('close', () => {
        // Covers a destroy without an error; normally a result is already in.
        if (status !== undefined) {
          respond(true);
        } else {
          settle(fail(new Error('connection closed without a response')));
        }
      });
    });
  }

  /** Closes pooled keep-alive connections. In-flight requests on them fail as resets. */
  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  #headers(headers: Record<string, string>): Record<string, string> {
    // got lower-cases header names; doing it here first makes the precedence explicit.
    const merged: Record<string, string> = { 'user-agent': this.#userAgent };
    for (const [name, value] of Object.entries(headers)) {
      merged[name.toLowerCase()] = value;
    }
    return merged;
  }
}

function excerpt(bytes: Buffer, truncated: boolean): string {
  // A cut in the middle of a multi-byte character would decode to U+FFFD; StringDecoder
  // holds back an incomplete trailing sequence instead, and it is dropped.
  const text = truncated ? new StringDecoder('utf8').write(bytes) : bytes.toString('utf8');
  // PostgreSQL text columns reject NUL, and the excerpt is stored.
  return text.replaceAll('\u0000', '\uFFFD');
}

function refusedMessage(host: string): string {
  return `host "${host}" is or resolves to an address in a range Herald may not connect to (loopback, private, link-local or reserved); the operator can allow it with HERALD_ALLOWED_TARGET_CIDRS`;
}

/**
 * One sentence for a name that does not resolve and for any failed connection to a
 * non-public address, so that attempt records cannot tell closed, open and filtered
 * internal ports apart, nor show where a name points.
 */
function unreachableMessage(host: string): string {
  return `could not reach host "${host}": the name did not resolve or the connection failed`;
}

/** Messages for public addresses: the class and error code, never an address or port. */
function publicMessage(errorClass: SendErrorClass, code: string | undefined, host: string, timeoutMs: number): string {
  const suffix = code === undefined ? '' : ` (${code})`;
  switch (errorClass) {
    case 'timeout':
      return `no response from host "${host}" within ${timeoutMs} ms`;
    case 'connection_refused':
      return `host "${host}" refused the connection${suffix}`;
    case 'connection_reset':
      return `host "${host}" closed the connection before answering${suffix}`;
    case 'tls':
      return `TLS with host "${host}" failed${suffix}`;
    case 'unreachable':
      return unreachableMessage(host);
    default:
      return `network error with host "${host}"${suffix}`;
  }
}

function describeError(error: unknown): { errorClass: SendErrorClass; code: string | undefined; message: string } {
  const name = error instanceof Error ? error.name : '';
  const message = (error instanceof Error ? error.message : String(error)).trim();
  const code = errorCode(error);
  return { errorClass: classifyError(name, code, message), code, message: withCode(code, message) };
}
function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) {
    return undefined;
  }
  const { code } = error;
  return typeof code === 'string' ? code : undefined;
}

/** Exported for its table test; the sender is the only caller. */
export function classifyError(name: string, code: string | undefined, message: string): SendErrorClass {
  if (name === 'AbortError' || code === 'ERR_ABORTED' || code === 'ABORT_ERR') {
    return 'aborted';
  }
  // got reports its own deadline as TimeoutError/ETIMEDOUT; an AbortSignal.timeout() signal
  // also surfaces as TimeoutError, with a DOMException's numeric code.
  if (name === 'TimeoutError' || code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT') {
    return 'timeout';
  }
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection_refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'connection_reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
      return 'unreachable';
    default:
      break;
  }
  if (code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_'))) {
    return 'tls';
  }
  // Node refused to build the request: retrying the same bytes cannot help.
  if (code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_HTTP_TOKEN' || code === 'ERR_INVALID_URL' || code === 'ERR_UNESCAPED_CHARACTERS') {
    return 'invalid_request';
  }
  if (/socket hang up/i.test(message)) {
    return 'connection_reset';
  }
  return 'network';
}

function withCode(code: string | undefined, message: string): string {
  if (code === undefined || message.includes(code)) {
    return message;
  }
  return `${code}: ${message}`;
}

import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import got, { type Got, type Request } from 'got';
import type { SendErrorClass, SendResult } from '../domain/delivery-outcome.js';

/** Options of {@link WebhookSender}. */
export interface WebhookSenderOptions {
  /**
   * `User-Agent` sent when a request's own headers carry none (they normally do: the
   * signer sets one). Default `"Herald-Webhook"`; without it got would announce itself.
   */
  userAgent?: string;
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

const DEFAULT_USER_AGENT = 'Herald-Webhook';
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

  constructor(options: WebhookSenderOptions = {}) {
    const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!Number.isSafeInteger(maxResponseBytes) || maxResponseBytes < 0) {
      throw new RangeError(`maxResponseBytes must be a non-negative integer, got ${maxResponseBytes}`);
    }
    this.#maxResponseBytes = maxResponseBytes;
    this.#userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
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

    let stream: Request;
    try {
      stream = this.#got.stream.post(req.url, {
        body: req.body,
        headers: this.#headers(req.headers),
        timeout: { request: req.timeoutMs },
        signal: req.signal,
      });
    } catch (error: unknown) {
      return { kind: 'error', ...describeError(error), durationMs: elapsed() };
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
        settle({ kind: 'error', ...describeError(error), durationMs: elapsed() });
      });
      stream.once('close', () => {
        // Covers a destroy without an error; normally a result is already in.
        if (status !== undefined) {
          respond(true);
        } else {
          settle({ kind: 'error', errorClass: 'network', message: 'connection closed without a response', durationMs: elapsed() });
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

function describeError(error: unknown): { errorClass: SendErrorClass; message: string } {
  const name = error instanceof Error ? error.name : '';
  const message = (error instanceof Error ? error.message : String(error)).trim();
  const code = errorCode(error);
  return { errorClass: classifyError(name, code, message), message: withCode(code, message) };
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) {
    return undefined;
  }
  const { code } = error;
  return typeof code === 'string' ? code : undefined;
}

function classifyError(name: string, code: string | undefined, message: string): SendErrorClass {
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
      return 'dns';
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

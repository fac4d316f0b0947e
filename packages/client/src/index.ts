/**
 * @herald/client: call Herald from another service, and verify its webhooks.
 *
 *   import { createHeraldClient, HeraldError, Status } from '@herald/client';
 *   const herald = createHeraldClient('herald.internal:50051', { token, tls: { ca } });
 *   const { decision } = await herald.NotificationService.CreateNotification(
 *     { agent_id: 'agent-42', notification_type: 'job.completed', title: 'Job 17 finished', metadata: { duration_s: 42 } },
 *     { timeoutMs: 2_000 },
 *   );
 */
import { createUntypedClient, type HeraldClientOptions } from './client.js';
import type { HeraldClient } from './types.js';

export { DEFAULT_TIMEOUT_MS, type HeraldClientOptions, type TlsOptions } from './client.js';
export { HeraldError, Status, type StatusName } from './errors.js';
export { dateToTimestamp, fromStruct, timestampToDate, toStruct, type JsonObject, type JsonValue, type Timestamp } from './json.js';
export { LOADER_OPTIONS, PROTO_FILES } from './proto-options.js';
export { checkWebhook, verifyWebhook, type VerifyWebhookOptions, type WebhookCheck, type WebhookFailure, type WebhookHeaders } from './webhook.js';
export { webhookOrdering, type WebhookOrdering } from './webhook.js';
export { parseWebhook, type DigestWebhook, type NotificationWebhook, type TestWebhook, type WebhookBody, type WebhookNotification } from './webhook.js';
export type {
  CallOptions,
  HeraldClient,
  HeraldStream,
  Message,
  MessageInput,
  MessageName,
  RequestType,
  ResponseType,
  ServiceMethods,
  ServiceName,
} from './types.js';

/**
 * Connects to Herald at `address` (`host:port`). The connection is made lazily, on the first
 * call, and shared by every service: `herald.NotificationService.CreateNotification(…)`.
 *
 * Every RPC of every service in the API is a method. Unary RPCs return a Promise that rejects
 * with a {@link HeraldError} carrying the gRPC code; server-streaming RPCs return a
 * {@link HeraldStream} to read with `for await`. A request of the wrong shape (a field the
 * message does not have, metadata JSON cannot carry) rejects with a TypeError naming the
 * field, before anything is sent.
 *
 * @throws TypeError for contradictory options (`insecure` with `tls`, `cert` without `key`)
 *   or a bad `timeoutMs`.
 */
export function createHeraldClient(address: string, options: HeraldClientOptions = {}): HeraldClient {
  // The run-time client is built from the loaded definitions; the generated types describe it.
  return createUntypedClient(address, options) as unknown as HeraldClient;
}

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
export { createHeraldClient, DEFAULT_TIMEOUT_MS, type HeraldClientOptions, type TlsOptions } from './client.js';
export { HeraldError, Status, type StatusName } from './errors.js';
export { dateToTimestamp, fromStruct, timestampToDate, toStruct, type JsonObject, type JsonValue, type Timestamp } from './json.js';
export { LOADER_OPTIONS, PROTO_FILES } from './proto-options.js';
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
export { checkWebhook, verifyWebhook, type VerifyWebhookOptions, type WebhookCheck, type WebhookFailure, type WebhookHeaders } from './webhook.js';

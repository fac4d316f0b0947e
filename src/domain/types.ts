/**
 * Herald's domain vocabulary, independent of gRPC and of the database.
 */

export const PRIORITIES = ['LOW', 'NORMAL', 'HIGH', 'URGENT'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Rank for comparisons; the same numbers as the proto enum and the stored column. */
export const PRIORITY_RANK: Readonly<Record<Priority, number>> = { LOW: 1, NORMAL: 2, HIGH: 3, URGENT: 4 };

export function priorityFromRank(rank: number): Priority | undefined {
  return PRIORITIES[rank - 1];
}

/** What quiet hours do to a webhook: drop it, send it at the window's end, or send the window's webhooks there as one digest. */
export const QUIET_HOURS_POLICIES = ['SKIP', 'DEFER', 'DIGEST'] as const;
export type QuietHoursPolicy = (typeof QUIET_HOURS_POLICIES)[number];

export interface QuietHours {
  /** "HH:MM", inclusive. */
  readonly start: string;
  /** "HH:MM", exclusive. */
  readonly end: string;
  readonly policy: QuietHoursPolicy;
  /** URGENT notifications are sent even inside the window. */
  readonly urgentBypass: boolean;
}

/** What the hourly limit does to a notification over it: drop its webhook, send it when the window has room, or send what it held back then as one digest. */
export const RATE_LIMIT_POLICIES = ['SUPPRESS', 'DEFER', 'DIGEST'] as const;
export type RateLimitPolicy = (typeof RATE_LIMIT_POLICIES)[number];

/** The fields a caller may set. */
export interface EditablePreferences {
  readonly enableWebhook: boolean;
  readonly webhookUrl: string | null;
  readonly timeZone: string;
  readonly quietHours: QuietHours | null;
  /** 0 means unlimited. */
  readonly maxPerHour: number;
  readonly rateLimitPolicy: RateLimitPolicy;
  /** Empty means every type. */
  readonly notificationTypes: readonly string[];
  /** null means no minimum. */
  readonly minPriority: Priority | null;
  /**
   * Extra request headers. Read back (AgentPreferences) the values are
   * {@link MASKED_HEADER_VALUE}: receiver credentials are write-only; in a
   * change, that value keeps the header's stored value.
   */
  readonly webhookHeaders: Readonly<Record<string, string>>;
  /** null means the service default. */
  readonly webhookTimeoutMs: number | null;
}

/** What every webhook_headers value reads as, and what keeps a stored value when written back. */
export const MASKED_HEADER_VALUE = '***';

/** Defaults of a new agent's row, and what a masked-but-unset field resets to. */
export const DEFAULT_PREFERENCES: EditablePreferences = Object.freeze({
  enableWebhook: false,
  webhookUrl: null,
  timeZone: 'UTC',
  quietHours: null,
  maxPerHour: 0,
  rateLimitPolicy: 'SUPPRESS',
  notificationTypes: [],
  minPriority: null,
  webhookHeaders: {},
  webhookTimeoutMs: null,
});

/** An agent's preferences as Herald shows them: never the secret itself. */
export interface AgentPreferences extends EditablePreferences {
  readonly agentId: string;
  readonly webhookSecretSet: boolean;
  /** The agent's first endpoint, which carries the fields above that 0.2 called its webhook; null before it has one. */
  readonly webhookEndpointId: string | null;
  /** Why Herald turned the webhook off itself (410 Gone), or null. */
  readonly webhookDisabledReason: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** The secrets that sign an agent's webhooks right now, newest first. */
export interface SigningSecrets {
  readonly current: string | null;
  readonly previous: string | null;
  readonly previousExpiresAt: Date | null;
}

export type DecisionOutcome = 'DELIVER' | 'DEFER' | 'SUPPRESS';
export type DecisionReason =
  | 'WEBHOOK_DISABLED'
  | 'NO_WEBHOOK_URL'
  | 'TYPE_FILTERED'
  | 'PRIORITY_FILTERED'
  | 'QUIET_HOURS'
  | 'RATE_LIMITED'
  | 'ACCEPTED'
  | 'URGENT_BYPASS'
  /** An endpoint's filter did not hold (per endpoint, and a summary taken from such an endpoint). */
  | 'FILTERED';

/** The reasons of an endpoint's decision and of the summary over an agent's endpoints (DecisionReason, which has FILTERED since #18). */
export type EndpointDecisionReason = DecisionReason;

export interface Decision {
  readonly outcome: DecisionOutcome;
  readonly reason: DecisionReason;
  /** When the webhook is due: the decision instant (DELIVER), the end of quiet hours (DEFER); null for SUPPRESS. */
  readonly deliverAt: Date | null;
  readonly explanation: string;
  readonly decidedAt: Date;
  /**
   * When the webhook counts toward the hourly limit: the decision instant, or
   * its send slot when deferred for the limit. Absent when it does not count
   * (SUPPRESS), and on decisions read back from storage.
   */
  readonly countsAt?: Date;
  /**
   * Set when the webhook joins a digest: the window it collects (reason
   * QUIET_HOURS: quiet-hours policy DIGEST; RATE_LIMITED: rate_limit_policy
   * DIGEST); `deliverAt` is its end.
   */
  readonly digest?: DigestWindow;
}

/** The quiet stretch a digest collects: from its first quiet instant to the instant it is sent. */
export interface DigestWindow {
  readonly start: Date;
  readonly end: Date;
}

/** A JSON object, as carried in `metadata`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** What a caller asks to create, after validation. */
export interface NotificationInput {
  readonly agentId: string;
  readonly notificationType: string;
  readonly title: string;
  readonly content: string;
  readonly priority: Priority;
  readonly relatedEntityType: string | null;
  readonly relatedEntityId: string | null;
  readonly metadata: JsonObject;
  readonly idempotencyKey: string | null;
}

export interface Notification extends NotificationInput {
  readonly id: string;
  /** The tenant the notification belongs to; its agent id is unique only within it. */
  readonly tenantId: string;
  readonly read: boolean;
  readonly readAt: Date | null;
  readonly createdAt: Date;
  readonly decision: Decision;
  /** The delivery enqueued for it, or null when suppressed. */
  readonly deliveryId: string | null;
  /** The decision for each of the agent's endpoints, in their order; empty before endpoints or for an agent without any. `decision` summarises them. */
  readonly endpointResults: readonly EndpointResult[];
}

/** The decision for one endpoint, as recorded on its notification. */
export interface EndpointResult {
  readonly endpointId: string;
  readonly outcome: DecisionOutcome;
  readonly reason: DecisionReason;
  readonly explanation: string;
  readonly deliverAt: Date | null;
  /** The delivery enqueued for this endpoint (its digest's when it joined one); null for SUPPRESS and in an evaluation. */
  readonly deliveryId: string | null;
}

/** Every status a delivery can have: the one list (metrics, retention and the queue derive theirs from it). */
export const DELIVERY_STATUSES = ['PENDING', 'DELIVERING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
/** The statuses a delivery does not leave by itself (only RetryDelivery or ReplayDeliveries move it on). */
export const FINISHED_DELIVERY_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELLED'] as const satisfies readonly DeliveryStatus[];
export type AttemptTrigger = 'SCHEDULED' | 'MANUAL' | 'TEST';
export type EventType = 'notification' | 'test' | 'digest';

export interface DeliveryAttempt {
  readonly number: number;
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly statusCode: number | null;
  readonly errorClass: string | null;
  readonly errorMessage: string | null;
  readonly responseExcerpt: string | null;
  readonly trigger: AttemptTrigger;
  readonly url: string;
}

export interface Delivery {
  readonly id: string;
  readonly tenantId: string;
  readonly agentId: string;
  readonly notificationId: string | null;
  /** The endpoint it goes to, whose secret signs it; null only for a delivery of an agent that had none. */
  readonly endpointId: string | null;
  readonly eventType: EventType;
  readonly status: DeliveryStatus;
  readonly attemptCount: number;
  readonly nextAttemptAt: Date;
  readonly lastStatusCode: number | null;
  readonly lastError: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly completedAt: Date | null;
  /**
   * The notification's ordering key and this delivery's place among the
   * endpoint's deliveries of that key (1, 2, 3…), set only when the endpoint
   * ordered by key (PER_KEY) when the delivery was created; null otherwise.
   */
  readonly ordering: DeliveryOrdering | null;
}

/** Where a delivery stands in its endpoint's order of one key (see src/domain/ordering.ts). */
export interface DeliveryOrdering {
  readonly key: string;
  readonly seq: number;
}

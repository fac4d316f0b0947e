-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_agent_preferences" (
    "tenant_id" TEXT NOT NULL DEFAULT 'default',
    "agent_id" TEXT NOT NULL,
    "enable_webhook" BOOLEAN NOT NULL DEFAULT false,
    "webhook_url" TEXT,
    "webhook_secret" TEXT,
    "previous_webhook_secret" TEXT,
    "previous_secret_expires_at" DATETIME,
    "time_zone" TEXT NOT NULL DEFAULT 'UTC',
    "quiet_start" TEXT,
    "quiet_end" TEXT,
    "quiet_policy" TEXT NOT NULL DEFAULT 'SKIP',
    "urgent_bypass" BOOLEAN NOT NULL DEFAULT false,
    "max_per_hour" INTEGER NOT NULL DEFAULT 0,
    "notification_types" TEXT NOT NULL DEFAULT '[]',
    "min_priority" INTEGER NOT NULL DEFAULT 0,
    "webhook_headers" TEXT NOT NULL DEFAULT '{}',
    "webhook_timeout_ms" INTEGER,
    "webhook_disabled_reason" TEXT,
    "created_at" DATETIME NOT NULL,
    "updated_at" DATETIME NOT NULL,
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,

    PRIMARY KEY ("tenant_id", "agent_id")
);
INSERT INTO "new_agent_preferences" ("agent_id", "consecutive_failures", "created_at", "enable_webhook", "max_per_hour", "min_priority", "notification_types", "previous_secret_expires_at", "previous_webhook_secret", "quiet_end", "quiet_policy", "quiet_start", "time_zone", "updated_at", "urgent_bypass", "webhook_disabled_reason", "webhook_headers", "webhook_secret", "webhook_timeout_ms", "webhook_url") SELECT "agent_id", "consecutive_failures", "created_at", "enable_webhook", "max_per_hour", "min_priority", "notification_types", "previous_secret_expires_at", "previous_webhook_secret", "quiet_end", "quiet_policy", "quiet_start", "time_zone", "updated_at", "urgent_bypass", "webhook_disabled_reason", "webhook_headers", "webhook_secret", "webhook_timeout_ms", "webhook_url" FROM "agent_preferences";
DROP TABLE "agent_preferences";
ALTER TABLE "new_agent_preferences" RENAME TO "agent_preferences";
CREATE TABLE "new_deliveries" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenant_id" TEXT NOT NULL DEFAULT 'default',
    "agent_id" TEXT NOT NULL,
    "notification_id" TEXT,
    "event_type" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "attempt_count" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" DATETIME NOT NULL,
    "lease_owner" TEXT,
    "lease_expires_at" DATETIME,
    "last_status_code" INTEGER,
    "last_error" TEXT,
    "created_at" DATETIME NOT NULL,
    "updated_at" DATETIME NOT NULL,
    "completed_at" DATETIME,
    "attempt_base" INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "new_deliveries" ("agent_id", "attempt_base", "attempt_count", "body", "completed_at", "created_at", "event_type", "id", "last_error", "last_status_code", "lease_expires_at", "lease_owner", "next_attempt_at", "notification_id", "status", "updated_at") SELECT "agent_id", "attempt_base", "attempt_count", "body", "completed_at", "created_at", "event_type", "id", "last_error", "last_status_code", "lease_expires_at", "lease_owner", "next_attempt_at", "notification_id", "status", "updated_at" FROM "deliveries";
DROP TABLE "deliveries";
ALTER TABLE "new_deliveries" RENAME TO "deliveries";
CREATE INDEX "deliveries_status_next_attempt_at_idx" ON "deliveries"("status", "next_attempt_at");
CREATE INDEX "deliveries_tenant_id_agent_id_status_next_attempt_at_idx" ON "deliveries"("tenant_id", "agent_id", "status", "next_attempt_at");
CREATE INDEX "deliveries_tenant_id_agent_id_created_at_idx" ON "deliveries"("tenant_id", "agent_id", "created_at");
CREATE INDEX "deliveries_tenant_id_created_at_idx" ON "deliveries"("tenant_id", "created_at");
CREATE INDEX "deliveries_created_at_idx" ON "deliveries"("created_at");
CREATE TABLE "new_notifications" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenant_id" TEXT NOT NULL DEFAULT 'default',
    "agent_id" TEXT NOT NULL,
    "notification_type" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "priority" INTEGER NOT NULL,
    "related_entity_type" TEXT,
    "related_entity_id" TEXT,
    "metadata" TEXT NOT NULL DEFAULT '{}',
    "idempotency_key" TEXT,
    "read" BOOLEAN NOT NULL DEFAULT false,
    "read_at" DATETIME,
    "created_at" DATETIME NOT NULL,
    "decision_outcome" TEXT NOT NULL,
    "decision_reason" TEXT NOT NULL,
    "decision_explanation" TEXT NOT NULL DEFAULT '',
    "deliver_at" DATETIME,
    "delivery_id" TEXT
);
INSERT INTO "new_notifications" ("agent_id", "content", "created_at", "decision_explanation", "decision_outcome", "decision_reason", "deliver_at", "delivery_id", "id", "idempotency_key", "metadata", "notification_type", "priority", "read", "read_at", "related_entity_id", "related_entity_type", "title") SELECT "agent_id", "content", "created_at", "decision_explanation", "decision_outcome", "decision_reason", "deliver_at", "delivery_id", "id", "idempotency_key", "metadata", "notification_type", "priority", "read", "read_at", "related_entity_id", "related_entity_type", "title" FROM "notifications";
DROP TABLE "notifications";
ALTER TABLE "new_notifications" RENAME TO "notifications";
CREATE INDEX "notifications_tenant_id_agent_id_created_at_idx" ON "notifications"("tenant_id", "agent_id", "created_at");
CREATE INDEX "notifications_created_at_id_idx" ON "notifications"("created_at", "id");
CREATE UNIQUE INDEX "notifications_tenant_id_agent_id_idempotency_key_key" ON "notifications"("tenant_id", "agent_id", "idempotency_key");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

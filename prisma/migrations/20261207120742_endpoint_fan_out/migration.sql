-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN "counted_at" DATETIME;
ALTER TABLE "deliveries" ADD COLUMN "rate_seq" INTEGER;

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_endpoints" (
    "tenant_id" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "agent_id" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "url" TEXT,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "disabled_reason" TEXT,
    "event_types" TEXT NOT NULL DEFAULT '[]',
    "filter" TEXT NOT NULL DEFAULT '[]',
    "headers" TEXT NOT NULL DEFAULT '{}',
    "timeout_ms" INTEGER,
    "max_attempts" INTEGER,
    "initial_delay_ms" INTEGER,
    "multiplier" REAL,
    "max_delay_ms" INTEGER,
    "secret" TEXT,
    "previous_secret" TEXT,
    "previous_secret_expires_at" DATETIME,
    "overrides" TEXT NOT NULL DEFAULT '{}',
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
    "rate_last_seq" INTEGER NOT NULL DEFAULT 0,
    "created_at" DATETIME NOT NULL,
    "updated_at" DATETIME NOT NULL,

    PRIMARY KEY ("tenant_id", "id"),
    CONSTRAINT "endpoints_tenant_id_agent_id_fkey" FOREIGN KEY ("tenant_id", "agent_id") REFERENCES "agent_preferences" ("tenant_id", "agent_id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_endpoints" ("agent_id", "consecutive_failures", "created_at", "description", "disabled_reason", "enabled", "event_types", "filter", "headers", "id", "initial_delay_ms", "max_attempts", "max_delay_ms", "multiplier", "overrides", "position", "previous_secret", "previous_secret_expires_at", "secret", "tenant_id", "timeout_ms", "updated_at", "url") SELECT "agent_id", "consecutive_failures", "created_at", "description", "disabled_reason", "enabled", "event_types", "filter", "headers", "id", "initial_delay_ms", "max_attempts", "max_delay_ms", "multiplier", "overrides", "position", "previous_secret", "previous_secret_expires_at", "secret", "tenant_id", "timeout_ms", "updated_at", "url" FROM "endpoints";
DROP TABLE "endpoints";
ALTER TABLE "new_endpoints" RENAME TO "endpoints";
CREATE UNIQUE INDEX "endpoints_tenant_id_agent_id_position_key" ON "endpoints"("tenant_id", "agent_id", "position");
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
    "delivery_id" TEXT,
    "rate_seq" INTEGER,
    "counted_at" DATETIME,
    "endpoint_results" TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO "new_notifications" ("agent_id", "content", "counted_at", "created_at", "decision_explanation", "decision_outcome", "decision_reason", "deliver_at", "delivery_id", "id", "idempotency_key", "metadata", "notification_type", "priority", "rate_seq", "read", "read_at", "related_entity_id", "related_entity_type", "tenant_id", "title") SELECT "agent_id", "content", "counted_at", "created_at", "decision_explanation", "decision_outcome", "decision_reason", "deliver_at", "delivery_id", "id", "idempotency_key", "metadata", "notification_type", "priority", "rate_seq", "read", "read_at", "related_entity_id", "related_entity_type", "tenant_id", "title" FROM "notifications";
DROP TABLE "notifications";
ALTER TABLE "new_notifications" RENAME TO "notifications";
CREATE INDEX "notifications_tenant_id_agent_id_created_at_idx" ON "notifications"("tenant_id", "agent_id", "created_at");
CREATE INDEX "notifications_created_at_id_idx" ON "notifications"("created_at", "id");
CREATE UNIQUE INDEX "notifications_tenant_id_agent_id_idempotency_key_key" ON "notifications"("tenant_id", "agent_id", "idempotency_key");
CREATE UNIQUE INDEX "notifications_tenant_id_agent_id_rate_seq_key" ON "notifications"("tenant_id", "agent_id", "rate_seq");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "deliveries_tenant_id_endpoint_id_rate_seq_key" ON "deliveries"("tenant_id", "endpoint_id", "rate_seq");

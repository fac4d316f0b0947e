-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN "endpoint_id" TEXT;

-- CreateTable
CREATE TABLE "endpoints" (
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
    "created_at" DATETIME NOT NULL,
    "updated_at" DATETIME NOT NULL,

    PRIMARY KEY ("tenant_id", "id"),
    CONSTRAINT "endpoints_tenant_id_agent_id_fkey" FOREIGN KEY ("tenant_id", "agent_id") REFERENCES "agent_preferences" ("tenant_id", "agent_id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- Data: each agent's 0.2 webhook (URL, headers, timeout, secret and its rotation) becomes its first
-- endpoint. Sealed values are copied as stored: a sealed value is bound to its agent and field name
-- (storage/secret-box.ts), and an endpoint's values use the same names, so they open as before.
INSERT INTO "endpoints" ("tenant_id", "id", "agent_id", "position", "url", "headers", "timeout_ms", "secret", "previous_secret", "previous_secret_expires_at", "consecutive_failures", "created_at", "updated_at")
SELECT "tenant_id", 'ep_' || upper(hex(randomblob(13))), "agent_id", 0, "webhook_url", "webhook_headers", "webhook_timeout_ms", "webhook_secret",
       "previous_webhook_secret", "previous_secret_expires_at", "consecutive_failures", "created_at", "updated_at"
FROM "agent_preferences";

-- Data: every delivery made before endpoints goes to its agent's first endpoint (test webhooks included).
UPDATE "deliveries" SET "endpoint_id" = (
    SELECT e."id" FROM "endpoints" e
    WHERE e."tenant_id" = "deliveries"."tenant_id" AND e."agent_id" = "deliveries"."agent_id" AND e."position" = 0
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_agent_preferences" (
    "tenant_id" TEXT NOT NULL DEFAULT 'default',
    "agent_id" TEXT NOT NULL,
    "enable_webhook" BOOLEAN NOT NULL DEFAULT false,
    "time_zone" TEXT NOT NULL DEFAULT 'UTC',
    "quiet_start" TEXT,
    "quiet_end" TEXT,
    "quiet_policy" TEXT NOT NULL DEFAULT 'SKIP',
    "urgent_bypass" BOOLEAN NOT NULL DEFAULT false,
    "max_per_hour" INTEGER NOT NULL DEFAULT 0,
    "rate_limit_policy" TEXT NOT NULL DEFAULT 'SUPPRESS',
    "notification_types" TEXT NOT NULL DEFAULT '[]',
    "min_priority" INTEGER NOT NULL DEFAULT 0,
    "webhook_disabled_reason" TEXT,
    "created_at" DATETIME NOT NULL,
    "updated_at" DATETIME NOT NULL,
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,

    PRIMARY KEY ("tenant_id", "agent_id")
);
INSERT INTO "new_agent_preferences" ("agent_id", "consecutive_failures", "created_at", "enable_webhook", "max_per_hour", "min_priority", "notification_types", "quiet_end", "quiet_policy", "quiet_start", "rate_limit_policy", "tenant_id", "time_zone", "updated_at", "urgent_bypass", "webhook_disabled_reason") SELECT "agent_id", "consecutive_failures", "created_at", "enable_webhook", "max_per_hour", "min_priority", "notification_types", "quiet_end", "quiet_policy", "quiet_start", "rate_limit_policy", "tenant_id", "time_zone", "updated_at", "urgent_bypass", "webhook_disabled_reason" FROM "agent_preferences";
DROP TABLE "agent_preferences";
ALTER TABLE "new_agent_preferences" RENAME TO "agent_preferences";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "endpoints_tenant_id_agent_id_position_key" ON "endpoints"("tenant_id", "agent_id", "position");

-- CreateIndex
CREATE INDEX "deliveries_tenant_id_endpoint_id_created_at_idx" ON "deliveries"("tenant_id", "endpoint_id", "created_at");

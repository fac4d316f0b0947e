-- AlterTable
ALTER TABLE "notifications" ADD COLUMN "counted_at" DATETIME;
ALTER TABLE "notifications" ADD COLUMN "rate_seq" INTEGER;

-- CreateTable
CREATE TABLE "rate_counters" (
    "tenant_id" TEXT NOT NULL,
    "agent_id" TEXT NOT NULL,
    "last_seq" INTEGER NOT NULL,

    PRIMARY KEY ("tenant_id", "agent_id")
);

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
    "rate_limit_policy" TEXT NOT NULL DEFAULT 'SUPPRESS',
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
INSERT INTO "new_agent_preferences" ("agent_id", "consecutive_failures", "created_at", "enable_webhook", "max_per_hour", "min_priority", "notification_types", "previous_secret_expires_at", "previous_webhook_secret", "quiet_end", "quiet_policy", "quiet_start", "tenant_id", "time_zone", "updated_at", "urgent_bypass", "webhook_disabled_reason", "webhook_headers", "webhook_secret", "webhook_timeout_ms", "webhook_url") SELECT "agent_id", "consecutive_failures", "created_at", "enable_webhook", "max_per_hour", "min_priority", "notification_types", "previous_secret_expires_at", "previous_webhook_secret", "quiet_end", "quiet_policy", "quiet_start", "tenant_id", "time_zone", "updated_at", "urgent_bypass", "webhook_disabled_reason", "webhook_headers", "webhook_secret", "webhook_timeout_ms", "webhook_url" FROM "agent_preferences";
DROP TABLE "agent_preferences";
ALTER TABLE "new_agent_preferences" RENAME TO "agent_preferences";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "notifications_tenant_id_agent_id_rate_seq_key" ON "notifications"("tenant_id", "agent_id", "rate_seq");

-- Backfill: every notification that counted toward the hourly limit (DELIVER or DEFER) gets its
-- agent's sequence number in creation order and counts at its decision instant, as before.
UPDATE "notifications" SET "rate_seq" = ranked."seq", "counted_at" = "notifications"."created_at"
FROM (
    SELECT "id", ROW_NUMBER() OVER (PARTITION BY "tenant_id", "agent_id" ORDER BY "created_at", "id") AS "seq"
    FROM "notifications" WHERE "decision_outcome" IN ('DELIVER', 'DEFER')
) AS ranked
WHERE "notifications"."id" = ranked."id";
INSERT INTO "rate_counters" ("tenant_id", "agent_id", "last_seq")
SELECT "tenant_id", "agent_id", MAX("rate_seq") FROM "notifications" WHERE "rate_seq" IS NOT NULL GROUP BY "tenant_id", "agent_id";

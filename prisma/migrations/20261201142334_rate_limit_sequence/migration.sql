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

-- AlterTable
ALTER TABLE "agent_preferences" ADD COLUMN "rate_limit_policy" TEXT NOT NULL DEFAULT 'SUPPRESS';

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

-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN     "endpoint_id" TEXT;

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
    "multiplier" DOUBLE PRECISION,
    "max_delay_ms" INTEGER,
    "secret" TEXT,
    "previous_secret" TEXT,
    "previous_secret_expires_at" TIMESTAMP(3),
    "overrides" TEXT NOT NULL DEFAULT '{}',
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "endpoints_pkey" PRIMARY KEY ("tenant_id","id")
);

-- Data: each agent's 0.2 webhook (URL, headers, timeout, secret and its rotation) becomes its first
-- endpoint. Sealed values are copied as stored: a sealed value is bound to its agent and field name
-- (storage/secret-box.ts), and an endpoint's values use the same names, so they open as before.
INSERT INTO "endpoints" ("tenant_id", "id", "agent_id", "position", "url", "headers", "timeout_ms", "secret", "previous_secret", "previous_secret_expires_at", "consecutive_failures", "created_at", "updated_at")
SELECT "tenant_id", 'ep_' || upper(substr(md5(random()::text || clock_timestamp()::text || "tenant_id" || ':' || "agent_id"), 1, 26)), "agent_id", 0, "webhook_url", "webhook_headers", "webhook_timeout_ms", "webhook_secret",
       "previous_webhook_secret", "previous_secret_expires_at", "consecutive_failures", "created_at", "updated_at"
FROM "agent_preferences";

-- Data: every delivery made before endpoints goes to its agent's first endpoint (test webhooks included).
UPDATE "deliveries" SET "endpoint_id" = (
    SELECT e."id" FROM "endpoints" e
    WHERE e."tenant_id" = "deliveries"."tenant_id" AND e."agent_id" = "deliveries"."agent_id" AND e."position" = 0
);

-- AlterTable
ALTER TABLE "agent_preferences" DROP COLUMN "previous_secret_expires_at",
DROP COLUMN "previous_webhook_secret",
DROP COLUMN "webhook_headers",
DROP COLUMN "webhook_secret",
DROP COLUMN "webhook_timeout_ms",
DROP COLUMN "webhook_url";

-- CreateIndex
CREATE UNIQUE INDEX "endpoints_tenant_id_agent_id_position_key" ON "endpoints"("tenant_id", "agent_id", "position");

-- CreateIndex
CREATE INDEX "deliveries_tenant_id_endpoint_id_created_at_idx" ON "deliveries"("tenant_id", "endpoint_id", "created_at");

-- AddForeignKey
ALTER TABLE "endpoints" ADD CONSTRAINT "endpoints_tenant_id_agent_id_fkey" FOREIGN KEY ("tenant_id", "agent_id") REFERENCES "agent_preferences"("tenant_id", "agent_id") ON DELETE CASCADE ON UPDATE CASCADE;

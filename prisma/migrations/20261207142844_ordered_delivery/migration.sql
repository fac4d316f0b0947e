-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN "ordering_key" TEXT;
ALTER TABLE "deliveries" ADD COLUMN "ordering_seq" INTEGER;

-- CreateTable
CREATE TABLE "ordering_sequences" (
    "tenant_id" TEXT NOT NULL,
    "endpoint_id" TEXT NOT NULL,
    "ordering_key" TEXT NOT NULL,
    "last_seq" INTEGER NOT NULL,

    PRIMARY KEY ("tenant_id", "endpoint_id", "ordering_key"),
    CONSTRAINT "ordering_sequences_tenant_id_endpoint_id_fkey" FOREIGN KEY ("tenant_id", "endpoint_id") REFERENCES "endpoints" ("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE
);

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
    "ordering" TEXT NOT NULL DEFAULT 'NONE',
    "created_at" DATETIME NOT NULL,
    "updated_at" DATETIME NOT NULL,

    PRIMARY KEY ("tenant_id", "id"),
    CONSTRAINT "endpoints_tenant_id_agent_id_fkey" FOREIGN KEY ("tenant_id", "agent_id") REFERENCES "agent_preferences" ("tenant_id", "agent_id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_endpoints" ("agent_id", "consecutive_failures", "created_at", "description", "disabled_reason", "enabled", "event_types", "filter", "headers", "id", "initial_delay_ms", "max_attempts", "max_delay_ms", "multiplier", "overrides", "position", "previous_secret", "previous_secret_expires_at", "rate_last_seq", "secret", "tenant_id", "timeout_ms", "updated_at", "url") SELECT "agent_id", "consecutive_failures", "created_at", "description", "disabled_reason", "enabled", "event_types", "filter", "headers", "id", "initial_delay_ms", "max_attempts", "max_delay_ms", "multiplier", "overrides", "position", "previous_secret", "previous_secret_expires_at", "rate_last_seq", "secret", "tenant_id", "timeout_ms", "updated_at", "url" FROM "endpoints";
DROP TABLE "endpoints";
ALTER TABLE "new_endpoints" RENAME TO "endpoints";
CREATE UNIQUE INDEX "endpoints_tenant_id_agent_id_position_key" ON "endpoints"("tenant_id", "agent_id", "position");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "deliveries_tenant_id_endpoint_id_ordering_key_status_ordering_seq_idx" ON "deliveries"("tenant_id", "endpoint_id", "ordering_key", "status", "ordering_seq");

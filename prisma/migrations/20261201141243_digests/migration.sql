-- CreateTable
CREATE TABLE "digests" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenant_id" TEXT NOT NULL,
    "agent_id" TEXT NOT NULL,
    "window_start" DATETIME NOT NULL,
    "window_end" DATETIME NOT NULL,
    "item_count" INTEGER NOT NULL,
    "open" BOOLEAN NOT NULL DEFAULT true,
    "kind" TEXT NOT NULL DEFAULT 'QUIET_HOURS',
    "created_at" DATETIME NOT NULL,
    CONSTRAINT "digests_id_fkey" FOREIGN KEY ("id") REFERENCES "deliveries" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "digests_tenant_id_agent_id_window_end_idx" ON "digests"("tenant_id", "agent_id", "window_end");

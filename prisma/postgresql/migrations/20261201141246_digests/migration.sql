-- CreateTable
CREATE TABLE "digests" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "agent_id" TEXT NOT NULL,
    "window_start" TIMESTAMP(3) NOT NULL,
    "window_end" TIMESTAMP(3) NOT NULL,
    "item_count" INTEGER NOT NULL,
    "open" BOOLEAN NOT NULL DEFAULT true,
    "kind" TEXT NOT NULL DEFAULT 'QUIET_HOURS',
    "created_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "digests_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "digests_tenant_id_agent_id_window_end_idx" ON "digests"("tenant_id", "agent_id", "window_end");

-- AddForeignKey
ALTER TABLE "digests" ADD CONSTRAINT "digests_id_fkey" FOREIGN KEY ("id") REFERENCES "deliveries"("id") ON DELETE CASCADE ON UPDATE CASCADE;

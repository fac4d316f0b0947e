-- AlterTable
ALTER TABLE "agent_preferences" ADD COLUMN     "consecutive_failures" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN     "attempt_base" INTEGER NOT NULL DEFAULT 0;

-- CreateIndex
CREATE INDEX "deliveries_agent_id_status_next_attempt_at_idx" ON "deliveries"("agent_id", "status", "next_attempt_at");

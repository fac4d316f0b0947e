-- DropIndex
DROP INDEX "deliveries_agent_id_created_at_idx";

-- DropIndex
DROP INDEX "deliveries_agent_id_status_next_attempt_at_idx";

-- DropIndex
DROP INDEX "notifications_agent_id_created_at_idx";

-- DropIndex
DROP INDEX "notifications_agent_id_idempotency_key_key";

-- AlterTable
ALTER TABLE "agent_preferences" DROP CONSTRAINT "agent_preferences_pkey",
ADD COLUMN     "tenant_id" TEXT NOT NULL DEFAULT 'default',
ADD CONSTRAINT "agent_preferences_pkey" PRIMARY KEY ("tenant_id", "agent_id");

-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN     "tenant_id" TEXT NOT NULL DEFAULT 'default';

-- AlterTable
ALTER TABLE "notifications" ADD COLUMN     "tenant_id" TEXT NOT NULL DEFAULT 'default';

-- CreateIndex
CREATE INDEX "deliveries_tenant_id_agent_id_status_next_attempt_at_idx" ON "deliveries"("tenant_id", "agent_id", "status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "deliveries_tenant_id_agent_id_created_at_idx" ON "deliveries"("tenant_id", "agent_id", "created_at");

-- CreateIndex
CREATE INDEX "deliveries_tenant_id_created_at_idx" ON "deliveries"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "notifications_tenant_id_agent_id_created_at_idx" ON "notifications"("tenant_id", "agent_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "notifications_tenant_id_agent_id_idempotency_key_key" ON "notifications"("tenant_id", "agent_id", "idempotency_key");

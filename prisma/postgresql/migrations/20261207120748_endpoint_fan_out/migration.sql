-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN     "counted_at" TIMESTAMP(3),
ADD COLUMN     "rate_seq" INTEGER;

-- AlterTable
ALTER TABLE "endpoints" ADD COLUMN     "rate_last_seq" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "notifications" ADD COLUMN     "endpoint_results" TEXT NOT NULL DEFAULT '[]';

-- CreateIndex
CREATE UNIQUE INDEX "deliveries_tenant_id_endpoint_id_rate_seq_key" ON "deliveries"("tenant_id", "endpoint_id", "rate_seq");

-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN     "ordering_key" TEXT,
ADD COLUMN     "ordering_seq" INTEGER;

-- AlterTable
ALTER TABLE "endpoints" ADD COLUMN     "ordering" TEXT NOT NULL DEFAULT 'NONE';

-- CreateTable
CREATE TABLE "ordering_sequences" (
    "tenant_id" TEXT NOT NULL,
    "endpoint_id" TEXT NOT NULL,
    "ordering_key" TEXT NOT NULL,
    "last_seq" INTEGER NOT NULL,

    CONSTRAINT "ordering_sequences_pkey" PRIMARY KEY ("tenant_id","endpoint_id","ordering_key")
);

-- CreateIndex
CREATE INDEX "deliveries_tenant_id_endpoint_id_ordering_key_status_orderi_idx" ON "deliveries"("tenant_id", "endpoint_id", "ordering_key", "status", "ordering_seq");

-- AddForeignKey
ALTER TABLE "ordering_sequences" ADD CONSTRAINT "ordering_sequences_tenant_id_endpoint_id_fkey" FOREIGN KEY ("tenant_id", "endpoint_id") REFERENCES "endpoints"("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Deliveries made before tracing (or with it off) carry no trace context: NULL, and their attempts start traces of their own.
-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN "trace_parent" TEXT;

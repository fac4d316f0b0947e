-- CreateTable
CREATE TABLE "agent_preferences" (
    "agent_id" TEXT NOT NULL,
    "enable_webhook" BOOLEAN NOT NULL DEFAULT false,
    "webhook_url" TEXT,
    "webhook_secret" TEXT,
    "previous_webhook_secret" TEXT,
    "previous_secret_expires_at" TIMESTAMP(3),
    "time_zone" TEXT NOT NULL DEFAULT 'UTC',
    "quiet_start" TEXT,
    "quiet_end" TEXT,
    "quiet_policy" TEXT NOT NULL DEFAULT 'SKIP',
    "urgent_bypass" BOOLEAN NOT NULL DEFAULT false,
    "max_per_hour" INTEGER NOT NULL DEFAULT 0,
    "notification_types" TEXT NOT NULL DEFAULT '[]',
    "min_priority" INTEGER NOT NULL DEFAULT 0,
    "webhook_headers" TEXT NOT NULL DEFAULT '{}',
    "webhook_timeout_ms" INTEGER,
    "webhook_disabled_reason" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "agent_preferences_pkey" PRIMARY KEY ("agent_id")
);

-- CreateTable
CREATE TABLE "notifications" (
    "id" TEXT NOT NULL,
    "agent_id" TEXT NOT NULL,
    "notification_type" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "priority" INTEGER NOT NULL,
    "related_entity_type" TEXT,
    "related_entity_id" TEXT,
    "metadata" TEXT NOT NULL DEFAULT '{}',
    "idempotency_key" TEXT,
    "read" BOOLEAN NOT NULL DEFAULT false,
    "read_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL,
    "decision_outcome" TEXT NOT NULL,
    "decision_reason" TEXT NOT NULL,
    "decision_explanation" TEXT NOT NULL DEFAULT '',
    "deliver_at" TIMESTAMP(3),
    "delivery_id" TEXT,

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "deliveries" (
    "id" TEXT NOT NULL,
    "agent_id" TEXT NOT NULL,
    "notification_id" TEXT,
    "event_type" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "attempt_count" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMP(3) NOT NULL,
    "lease_owner" TEXT,
    "lease_expires_at" TIMESTAMP(3),
    "last_status_code" INTEGER,
    "last_error" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL,
    "updated_at" TIMESTAMP(3) NOT NULL,
    "completed_at" TIMESTAMP(3),

    CONSTRAINT "deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "delivery_attempts" (
    "id" TEXT NOT NULL,
    "delivery_id" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "started_at" TIMESTAMP(3) NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "status_code" INTEGER,
    "error_class" TEXT,
    "error_message" TEXT,
    "response_excerpt" TEXT,
    "trigger" TEXT NOT NULL,
    "url" TEXT NOT NULL,

    CONSTRAINT "delivery_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "notifications_agent_id_created_at_idx" ON "notifications"("agent_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "notifications_agent_id_idempotency_key_key" ON "notifications"("agent_id", "idempotency_key");

-- CreateIndex
CREATE INDEX "deliveries_status_next_attempt_at_idx" ON "deliveries"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "deliveries_agent_id_created_at_idx" ON "deliveries"("agent_id", "created_at");

-- CreateIndex
CREATE INDEX "deliveries_created_at_idx" ON "deliveries"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "delivery_attempts_delivery_id_number_key" ON "delivery_attempts"("delivery_id", "number");

-- AddForeignKey
ALTER TABLE "delivery_attempts" ADD CONSTRAINT "delivery_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "deliveries"("id") ON DELETE CASCADE ON UPDATE CASCADE;

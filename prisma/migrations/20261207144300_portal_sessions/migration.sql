-- CreateTable
CREATE TABLE "portal_sessions" (
    "tenant_id" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "agent_id" TEXT NOT NULL,
    "read_only" BOOLEAN NOT NULL,
    "role" TEXT NOT NULL,
    "token_digest" TEXT NOT NULL,
    "cookie_digest" TEXT,
    "created_at" DATETIME NOT NULL,
    "expires_at" DATETIME NOT NULL,
    "opened_at" DATETIME,
    "revoked_at" DATETIME,

    PRIMARY KEY ("tenant_id", "id"),
    CONSTRAINT "portal_sessions_tenant_id_agent_id_fkey" FOREIGN KEY ("tenant_id", "agent_id") REFERENCES "agent_preferences" ("tenant_id", "agent_id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "portal_sessions_token_digest_key" ON "portal_sessions"("token_digest");

-- CreateIndex
CREATE UNIQUE INDEX "portal_sessions_cookie_digest_key" ON "portal_sessions"("cookie_digest");

-- CreateIndex
CREATE INDEX "portal_sessions_tenant_id_agent_id_created_at_idx" ON "portal_sessions"("tenant_id", "agent_id", "created_at");

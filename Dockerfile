# syntax=docker/dockerfile:1
# Herald: a small runtime image. Build: docker build -t herald .
# Run:   docker run -p 50051:50051 -v herald-data:/app/data herald

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles its native addon when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY proto ./proto
# postinstall generates the Prisma clients and gRPC types into src/generated.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    DATABASE_URL=file:/app/data/herald.db \
    GRPC_ADDRESS=0.0.0.0:50051
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Read at run time: the .proto files (reflection, loader) and the migrations applied at start.
COPY --from=build /app/proto ./proto
COPY --from=build /app/prisma/migrations ./prisma/migrations
COPY --from=build /app/prisma/postgresql/migrations ./prisma/postgresql/migrations
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 50051
# Node runs as PID 1 and handles SIGTERM itself: it drains calls and webhooks
# for HERALD_SHUTDOWN_GRACE_MS, so give the container at least that long to stop.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]

# syntax=docker/dockerfile:1
# Herald: a small runtime image.
# Build: docker build -t herald \
#          --build-arg VERSION=$(node -p "require('./package.json').version") \
#          --build-arg REVISION=$(git rev-parse --short HEAD) .
# Run:   docker run -p 50051:50051 -v herald-data:/app/data herald
# `node scripts/docker-replay.mjs` replays these steps without Docker (.ci/run does).

# Node 24 is the Active LTS line (maintained until April 2028); package.json
# `engines` admits it, and CI runs the tests on it as well as on the build machines' Node.
ARG NODE_IMAGE=node:24-bookworm-slim

# Build: every dependency, the generated code (Prisma clients, gRPC types) and the compiled JS.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 compiles its native addon when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
# tsconfig.json comes before `npm ci`: postinstall generates the clients, and
# the generators must see the project as it will be compiled.
COPY package.json package-lock.json prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY proto ./proto
RUN npm ci --no-audit --no-fund
COPY src ./src
ARG REVISION=unknown
RUN HERALD_BUILD_REVISION="$REVISION" npm run build

# Production dependencies only (about 110 MB instead of 385). --omit=optional
# matters: the Prisma CLI and TypeScript are optional peers of @prisma/client,
# which --omit=dev keeps (the only other optional package, pg-cloudflare, is for
# Cloudflare Workers). No install script runs: postinstall would regenerate
# code with the Prisma CLI. The one native addon (better-sqlite3) is taken from
# the build stage, built there for this same Node and platform from the same lockfile.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --omit=peer --ignore-scripts --no-audit --no-fund
COPY --from=build /app/node_modules/better-sqlite3/build/Release/better_sqlite3.node ./node_modules/better-sqlite3/build/Release/better_sqlite3.node

FROM ${NODE_IMAGE}
ARG VERSION=0.2.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Notification-preferences microservice with a gRPC API and signed webhooks" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# The shutdown grace stays below Docker's default stop timeout (10 s), so a
# plain `docker stop` lets Herald drain instead of being killed mid-send.
ENV NODE_ENV=production \
    DATABASE_URL=file:/app/data/herald.db \
    GRPC_ADDRESS=0.0.0.0:50051 \
    HERALD_SHUTDOWN_GRACE_MS=8000
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Read at run time: the .proto files (reflection, loader) and the migrations applied at start.
COPY --from=build /app/proto ./proto
COPY --from=build /app/prisma/migrations ./prisma/migrations
COPY --from=build /app/prisma/postgresql/migrations ./prisma/postgresql/migrations
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 50051
# Asks the server's own grpc.health.v1.Health for SERVING (src/healthcheck.ts).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "dist/healthcheck.js"]
# Node runs as PID 1 and handles SIGTERM itself: it drains calls and webhooks
# for HERALD_SHUTDOWN_GRACE_MS. Raising that above 8000 needs a longer stop
# timeout too (docker run --stop-timeout, compose stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]

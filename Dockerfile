# syntax=docker/dockerfile:1
# The hub's image (docker-compose.yml builds it). Stage one installs everything, bundles the
# hub's TypeScript into one ES module with esbuild (the live map's page and assets go beside it in
# dist/hub/web) and then reinstalls only the hub's production dependencies; stage two is the same
# Node base with that bundle and node_modules, run as `node`.
# Both stages use one base image, so better-sqlite3's native addon matches the runtime.

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
# For native addons that have no prebuilt binary for this platform (better-sqlite3).
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY protocol/package.json protocol/
COPY hub/package.json hub/
COPY agent/package.json agent/
COPY simulator/package.json simulator/
COPY demo/package.json demo/
# The live map's sources: npm ci's prepare script builds them into hub/web/dist.
COPY tsconfig.json ./
COPY hub/web hub/web
RUN npm ci --no-audit --no-fund
COPY protocol/src protocol/src
COPY hub/src hub/src
COPY infra/hub/bundle.mjs infra/hub/
RUN node infra/hub/bundle.mjs dist/hub && cp -r hub/web/dist dist/hub/web
# Only what the hub needs at run time: npm ci starts from an empty node_modules.
RUN npm ci --omit=dev --workspace=hub --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist/hub dist/hub
RUN mkdir /data && chown node:node /data
USER node
ENV LOCUS_HTTP_HOST=0.0.0.0 \
    LOCUS_HTTP_PORT=3000 \
    LOCUS_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.LOCUS_HTTP_PORT+'/api/v1/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node is PID 1 and handles SIGTERM itself: commit, acknowledge, publish, exit 0.
CMD ["node", "--max-semi-space-size=64", "--enable-source-maps", "dist/hub/main.mjs"]

# syntax=docker/dockerfile:1
# The platform's image: the config service and the rollout worker, chosen by the command.
#   docker run IMAGE                              config service: REST 8080, gRPC 50051 (the default)
#   docker run IMAGE node dist/server/worker.js   rollout worker: health on 8091
# linux/amd64 only: @temporalio/core-bridge ships its native library for linux x86_64.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so a source change reuses the npm ci layer. The project's own `prepare` also
# builds the web console, whose sources are not here yet: npm ci skips it, `npm rebuild` runs the
# dependencies' install scripts, and gen:proto writes the proto-generated types to gen/ from proto/.
COPY package.json package-lock.json ./
COPY proto ./proto
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild && npm run gen:proto
COPY tsconfig.json ./
COPY common ./common
COPY activities ./activities
COPY workflows ./workflows
COPY server ./server
COPY sdk ./sdk
COPY cli ./cli
COPY lambdas ./lambdas
COPY rolloutClient ./rolloutClient
COPY scripts ./scripts
COPY examples ./examples
# The web console's page, bundled into console/dist (scripts/build-console.ts).
COPY console ./console
RUN npm run build:console
RUN npx tsc -p . && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# package.json stays next to dist/: common/repoRoot.ts finds the root by it, and proto/ beside it
# holds the .proto files the servers load at run time.
COPY --from=build /app/package.json ./
COPY --from=build /app/proto ./proto
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/console/dist ./console/dist
# Root owns the code; the app's user may write only .local/ (the docker-compose stack's dev keys, a
# volume there) and /tmp.
RUN mkdir -p /app/.local && chown node:node /app/.local
USER node
EXPOSE 8080 50051 8091
CMD ["node", "dist/server/main.js"]

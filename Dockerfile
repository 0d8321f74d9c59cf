# Kluis: Node 24 runs the TypeScript sources directly (type stripping); no build step.
FROM node:24-bookworm-slim

ENV NODE_ENV=production
# In a container only the container's own interface is reachable from outside: Kluis's loopback default is not.
ENV HOST=0.0.0.0
WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY views ./views
COPY locales ./locales
RUN ln -s /app/bin/kluis.js /usr/local/bin/kluis

USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# The same allocator settings and V8 heap limits as `npm start` (package.json; docs/operator-guide.md says why and
# when to raise them). One glibc malloc arena: with one per thread, the libuv threads that run argon2id and crypto each
# kept their own freed memory (about 30 MB of RSS under the bench). Fixed thresholds, so that in that one arena two
# argon2id hashes' 19 MiB buffers are reused rather than returned and faulted in again for every hash (20 ms of CPU
# per sign-in, measured).
ENV MALLOC_ARENA_MAX=1
ENV MALLOC_MMAP_THRESHOLD_=33554432
ENV MALLOC_TRIM_THRESHOLD_=67108864
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=160", "bin/server.js"]

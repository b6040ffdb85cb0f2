# The Borealis control plane, for `docker compose up` (see docker-compose.yml).
# PostgreSQL and Redis run as their own services; DATABASE_URL and REDIS_URL point at them.
FROM node:20-bookworm-slim

WORKDIR /app
RUN chown node:node /app
USER node

# Dependencies first, so that a source change does not reinstall them.
COPY --chown=node:node package.json package-lock.json ./
# The stamp tells `npm run build` and `npm start` that node_modules matches package-lock.json
# (see scripts/lib/install.mjs), so that they do not install everything a second time.
# `npm install`, not `npm ci`: see docs/adr/0003 (npm 11 and optional platform packages).
RUN npm install --no-audit --no-fund --loglevel=error \
 && node -e "const { createHash } = require('node:crypto'); const fs = require('node:fs'); fs.writeFileSync('node_modules/.borealis-install-stamp', createHash('sha256').update(fs.readFileSync('package-lock.json')).digest('hex'))"

COPY --chown=node:node . .
RUN npm run build \
 && mkdir -p .data

ENV HOST=0.0.0.0 \
    PORT=7400
# REST API, then the range cluster endpoints are allocated from.
EXPOSE 7400 7500-7599

CMD ["node", "scripts/start.mjs"]

#!/usr/bin/env bash
# Prints DO or KV: the grant store a wrangler.toml (default: ./wrangler.toml)
# asks for, or GRANT_STORE from the environment when set. The same rule as the
# Worker and `admin` (alexa_oauth::is_durable_grant_store): the last
# uncommented `GRANT_STORE = "…"` line, DO in any case, spaces allowed.
set -euo pipefail
toml=${1:-wrangler.toml}
value=${GRANT_STORE:-}
if [ -z "$value" ] && [ -f "$toml" ]; then
  value=$(sed -e 's/#.*//' "$toml" \
    | sed -n -E 's/^[[:space:]]*GRANT_STORE[[:space:]]*=[[:space:]]*["'"'"']?([^"'"'"']*)["'"'"']?[[:space:]]*$/\1/p' \
    | tail -n 1)
fi
value=$(echo "$value" | tr -d '[:space:]' | tr '[:lower:]' '[:upper:]')
if [ "$value" = DO ]; then echo DO; else echo KV; fi

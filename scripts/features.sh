#!/usr/bin/env bash
# Prints the cargo features the Worker is built with, comma-separated (maybe
# none): only what the configuration uses goes into the wasm, since every byte
# counts against cold start.
# - durable: Durable Object mode (scripts/grant-store.sh's rule).
# - upstream: sign-in through providers, when SIGN_IN_PROVIDERS is set to
#   something in the environment, in an uncommented line of wrangler.toml (any
#   [vars] table) or in .dev.vars. Set it in the environment when building if
#   the deployed value lives elsewhere (the dashboard):
#   `SIGN_IN_PROVIDERS=google npx wrangler deploy`.
set -euo pipefail
cd "$(dirname "$0")/.."
features=()
if [ "$(bash scripts/grant-store.sh)" = DO ]; then
  features+=(durable)
fi
named() { # a file with NAME = "value" or NAME=value lines
  [ -f "$1" ] && sed -e 's/#.*//' "$1" \
    | grep -qE '^[[:space:]]*SIGN_IN_PROVIDERS[[:space:]]*=[[:space:]]*["'"'"']?[[:space:]]*[^"'"'"'[:space:]]'
}
if [ -n "$(echo "${SIGN_IN_PROVIDERS:-}" | tr -d '[:space:],')" ] || named wrangler.toml || named .dev.vars; then
  features+=(upstream)
fi
(IFS=,; echo "${features[*]}")

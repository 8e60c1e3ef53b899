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
# - es256: ES256 access tokens, when ACCESS_TOKEN_ALG is ES256 in the same
#   places (any case).
# - account: the account page, invitations and reset links, when
#   ACCOUNT_PAGES is on (or true) in the same places.
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
es256() { # a file with ACCESS_TOKEN_ALG = "ES256"
  [ -f "$1" ] && sed -e 's/#.*//' "$1" \
    | grep -qiE '^[[:space:]]*ACCESS_TOKEN_ALG[[:space:]]*=[[:space:]]*["'"'"']?[[:space:]]*ES256'
}
if [ "$(echo "${ACCESS_TOKEN_ALG:-}" | tr -d '[:space:]' | tr '[:lower:]' '[:upper:]')" = ES256 ] \
  || es256 wrangler.toml || es256 .dev.vars; then
  features+=(es256)
fi
account() { # a file with ACCOUNT_PAGES = "on"
  [ -f "$1" ] && sed -e 's/#.*//' "$1" \
    | grep -qiE '^[[:space:]]*ACCOUNT_PAGES[[:space:]]*=[[:space:]]*["'"'"']?[[:space:]]*(on|true)'
}
case "$(echo "${ACCOUNT_PAGES:-}" | tr -d '[:space:]' | tr '[:upper:]' '[:lower:]')" in
  on | true) features+=(account) ;;
  *) if account wrangler.toml || account .dev.vars; then features+=(account); fi ;;
esac
(IFS=,; echo "${features[*]}")

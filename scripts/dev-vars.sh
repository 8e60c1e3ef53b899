#!/usr/bin/env bash
# Gives a checkout a local .dev.vars (read by `wrangler dev` only, never deployed)
# with a random SIGNING_KEY, so `npm run dev` and a bare `npx wrangler dev` both
# issue tokens. Production sets its key with `wrangler secret put SIGNING_KEY`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .dev.vars ] || ! grep -q '^SIGNING_KEY=' .dev.vars; then
  key=$(node -e "process.stdout.write(require('crypto').randomBytes(48).toString('base64url'))")
  { echo "SIGNING_KEY=$key"; echo "DEMO_CALLBACK=true"; } >> .dev.vars
  echo "dev-vars: wrote a new local SIGNING_KEY to .dev.vars" >&2
fi

#!/usr/bin/env bash
# Builds the release Worker into build/ (wrangler.toml's build command).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup.sh)"
bash scripts/dev-vars.sh
"$WORKER_BUILD" --release

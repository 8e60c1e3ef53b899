#!/usr/bin/env bash
# Builds the release Worker into build/ (wrangler.toml's build command).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup.sh)"
bash scripts/dev-vars.sh
"$WORKER_BUILD" --release
# Drop the name and producer sections worker-build leaves in: about 100 KiB that
# only a debugger reads, and every byte counts against cold start.
"$WASM_OPT_BIN" build/index_bg.wasm --all-features --strip-debug --strip-producers -o build/index_bg.wasm

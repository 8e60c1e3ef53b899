#!/usr/bin/env bash
# Builds the release Worker into build/ (wrangler.toml's build command).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup.sh)"
bash scripts/dev-vars.sh
"$WORKER_BUILD" --release
# Drop the name and producer sections worker-build leaves in (about 100 KiB that
# only a debugger reads) and optimise for size once more: every byte counts
# against cold start. wasm-opt takes
# the enabled features from the module's own target_features section. Written
# beside the file and renamed, so a running `wrangler dev` never loads half a module.
"$WASM_OPT_BIN" build/index_bg.wasm -o build/index_bg.stripped.wasm -Oz --strip-debug --strip-producers
mv build/index_bg.stripped.wasm build/index_bg.wasm

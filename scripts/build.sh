#!/usr/bin/env bash
# Builds the release Worker into build/ (wrangler.toml's build command).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup.sh)"
bash scripts/dev-vars.sh
# BUILD_DIR: where the Worker goes (wrangler.toml's `main` reads build/).
out=${BUILD_DIR:-build}
# One build: every capability is in the wasm and the settings choose at run
# time, so nothing here reads wrangler.toml or the environment's settings.
# What the build is made of. A build of the same inputs is kept as it is:
# `wrangler dev` runs this command twice at every start (for its entry, then
# again when its file watcher is ready), and the second would redo
# wasm-bindgen and wasm-opt for nothing.
inputs=$(
  {
    echo "RUSTFLAGS: ${RUSTFLAGS:-}"
    rustc --version
    cat scripts/build.sh scripts/setup.sh
    find src static -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum Cargo.toml Cargo.lock askama.toml
  } | sha256sum | cut -d' ' -f1
)
if [ -f "$out/.inputs" ] && [ "$(cat "$out/.inputs")" = "$inputs" ] \
  && [ -f "$out/index.js" ] && [ -f "$out/index_bg.wasm" ]; then
  echo "build: $out/ is current (same sources and tools)" >&2
  exit 0
fi
echo "build: $out/" >&2
rm -f "$out/.inputs"
"$WORKER_BUILD" --release --out-dir "$out" .
# Drop the name and producer sections worker-build leaves in (about 100 KiB that
# only a debugger reads) and optimise for size once more: every byte counts
# against cold start. wasm-opt takes
# the enabled features from the module's own target_features section. Written
# beside the file and renamed, so a running `wrangler dev` never loads half a module.
"$WASM_OPT_BIN" "$out/index_bg.wasm" -o "$out/index_bg.stripped.wasm" -Oz --strip-debug --strip-producers
mv "$out/index_bg.stripped.wasm" "$out/index_bg.wasm"
echo "$inputs" > "$out/.inputs"

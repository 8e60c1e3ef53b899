#!/usr/bin/env bash
# Builds the admin command for wasm32-wasip1 (target/wasm32-wasip1/release/
# admin.wasm): the bundle runs it under Node (scripts/admin-node.mjs), so an
# operator needs no Rust. The same source as the native `admin`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
  echo "admin-wasm: adding the wasm32-wasip1 target (once)" >&2
  rustup target add wasm32-wasip1 >&2
fi
cargo build --quiet --release --bin admin --target wasm32-wasip1

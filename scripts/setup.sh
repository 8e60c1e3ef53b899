#!/usr/bin/env bash
# Installs the pinned toolchain when it is missing, and does nothing when it is
# there: the wasm32 target, worker-build and wasm-bindgen-cli (from crates.io,
# into .tools/ unless the same version is already on PATH), and the npm packages
# (wrangler, esbuild, binaryen) from package-lock.json.
#
# Prints the environment worker-build needs, for `eval "$(scripts/setup.sh)"`;
# progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

WORKER_BUILD_VERSION=0.8.7
# wasm-bindgen-cli must match the wasm-bindgen library in Cargo.lock exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)

say() { echo "setup: $*" >&2; }
started=$SECONDS

# npm packages: reinstalled only when package-lock.json changed since the last
# install, and in the background while cargo builds the Rust tools (the two
# share nothing, and a first run is mostly waiting on them).
stamp=node_modules/.setup-stamp
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
npm_pid=
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  say "installing npm packages (npm ci, about 30 s) in the background"
  ( npm ci --no-audit --no-fund --loglevel=error >&2 && echo "$lock_sum" > "$stamp" ) &
  npm_pid=$!
fi

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown >&2
fi

# Prints the path of a tool at the wanted version, installing it into .tools/ if needed.
cargo_tool() { # crate binary version [cargo install flags…]
  local crate=$1 bin=$2 version=$3 found
  shift 3
  for found in "$root/.tools/bin/$bin" "$(command -v "$bin" || true)"; do
    if [ -n "$found" ] && [ -x "$found" ] && "$found" --version 2>/dev/null | grep -qw -- "$version"; then
      echo "$found"; return
    fi
  done
  say "installing $crate $version into .tools/ (once; about 2-3 min on 2 cores)"
  local t=$SECONDS
  # One target directory for both tools, so the dependencies they share compile
  # once. --locked can fail when the registry index lags the tool's own
  # lockfile; retry without.
  local flags=(--quiet --root "$root/.tools" --target-dir "$root/.tools/target" "$@")
  # Each tool runs for about a second per build: optimised a little, not fully,
  # they compile in much less time and run as fast as we can tell.
  export CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
  if ! cargo install "${flags[@]}" "$crate" --version "$version" --locked 2>/dev/null >&2; then
    say "$crate: --locked failed (the registry index lags its lockfile); retrying without"
    cargo install "${flags[@]}" "$crate" --version "$version" >&2
  fi
  say "$crate installed in $((SECONDS - t)) s"
  echo "$root/.tools/bin/$bin"
}

worker_build=$(cargo_tool worker-build worker-build "$WORKER_BUILD_VERSION")
# Without its default TLS stack (rustls and ring, a third of its build): only
# wasm-bindgen's test runner downloads anything.
wasm_bindgen=$(cargo_tool wasm-bindgen-cli wasm-bindgen "$WASM_BINDGEN_VERSION" --no-default-features)

if [ -n "$npm_pid" ]; then
  wait "$npm_pid" || { say "npm ci failed"; exit 1; }
fi
if [ $((SECONDS - started)) -gt 5 ]; then
  say "tools ready in $((SECONDS - started)) s"
fi

# Absolute paths: with a wrong one worker-build falls back to downloading from GitHub.
cat <<VARS
export WORKER_BUILD="$worker_build"
export WASM_BINDGEN_BIN="$wasm_bindgen"
export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
VARS

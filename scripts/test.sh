#!/usr/bin/env bash
# `npm test`: installs what is missing (beside the next two steps), runs the
# compiler's gates and the native unit and flow tests of the core, builds the
# Worker, then runs the end-to-end suite against it under `wrangler dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase says when it starts, in seconds since this script did, so a slow
# run (CI's log) shows where the time went.
phase() { echo "== [${SECONDS} s] $*"; }
# Runs one step and says how long it took, for the same reason.
step() {
  local t=$SECONDS
  "$@"
  echo "   ($((SECONDS - t)) s: $*)" | cut -c1-100
}

# The tools (scripts/setup.sh: worker-build and wasm-bindgen-cli from
# crates.io, the npm packages; minutes on a clean machine) and Chromium install
# in the background while the gates and the native tests compile: nothing
# before the Worker's build needs them, and each fills the cores the other
# leaves idle. Their output goes to target/, and is shown when they fail.
mkdir -p target
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
bash scripts/setup.sh > target/setup.env 2> target/setup.log &
setup_pid=$!
bash scripts/setup-browser.sh > target/setup-browser.log 2>&1 &
browser_pid=$!
# A run that stops early takes its installs down with it.
trap 'for p in $(jobs -p); do pkill -P "$p" 2>/dev/null; kill "$p" 2>/dev/null; done; true' EXIT
# Waits for a background install and shows what it said.
installed() { # pid log
  local ok=0
  wait "$1" || ok=$?
  sed 's/^/   /' "$2"
  [ "$ok" = 0 ] || { echo "test: $2 says why the install failed" >&2; exit 1; }
}

phase "the compiler's gates: format, clippy and rustdoc, here and in fuzz/"
step cargo fmt --all -- --check
step cargo clippy --quiet --all-targets -- -D warnings
# The Worker's glue exists only for wasm32: lint it there too.
step cargo clippy --quiet --lib --target wasm32-unknown-unknown -- -D warnings
# admin for WASI too (the bundle's `npm run admin`), where host.rs differs.
step bash scripts/admin-wasm.sh
step cargo clippy --quiet --bin admin --target wasm32-wasip1 -- -D warnings
RUSTDOCFLAGS=-Dwarnings step cargo doc --quiet --no-deps
# fuzz/ is a workspace of its own; with the main target directory it reuses
# most of what the lint above checked (fuzz/Cargo.toml has the same profile).
step bash -c 'cd fuzz && export CARGO_TARGET_DIR=../target && cargo fmt -- --check \
  && cargo clippy --quiet --all-targets -- -D warnings && RUSTDOCFLAGS=-Dwarnings cargo doc --quiet --no-deps'
# Every path the README, docs/ and the module map name exists.
step node scripts/check-paths.mjs

phase "native tests (cargo test: both grant stores)"
step cargo test --quiet

phase "building the Worker and the admin command"
installed "$setup_pid" target/setup.log
eval "$(cat target/setup.env)"
step cargo build --quiet --bin admin
# One Worker: every test picks its store and capabilities with variables
# (tests/e2e/harness.mjs), as an operator does. Quiet when it works; run again
# for its output when it does not.
step bash -c 'bash scripts/build.sh >/dev/null 2>&1 || bash scripts/build.sh'
# The bundle that deploys without Rust (dist/), for tests/e2e/bundle.test.mjs:
# this Worker and admin compiled to wasm32-wasip1.
step bash -c 'node scripts/bundle.mjs >/dev/null 2>&1 || node scripts/bundle.mjs'

phase "end-to-end tests against wrangler dev"
installed "$browser_pid" target/setup-browser.log
# One seeded state per run, copied for each Worker (tests/e2e/harness.mjs),
# in place of eight wrangler calls per start.
rm -rf target/e2e-seeds target/e2e-logs
E2E_RUN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export E2E_RUN
# Two files at a time: most of a file's time is waiting on wrangler and the
# runtime, not the two cores.
# The files that need no settings of their own share one Worker per store mode,
# started once for the run (tests/e2e/harness/shared.mjs, `sharedWorker`).
node tests/e2e/harness/shared.mjs \
  node --test --test-concurrency="${E2E_CONCURRENCY:-2}" --test-reporter=spec \
  $(ls tests/e2e/*.test.mjs | grep -v load.test.mjs)
# The load test alone: with other Workers starting beside it on a 2-core machine,
# wrangler dev was seen to restart the runtime mid-request.
phase "load test (KV and Durable Object modes)"
node --test --test-reporter=spec tests/e2e/load.test.mjs
phase "done"

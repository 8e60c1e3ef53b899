#!/usr/bin/env bash
# `npm test`: installs what is missing, then runs the compiler's gates, the
# native unit and flow tests of the core, then the end-to-end suite against the
# built Worker under `wrangler dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase says when it starts, in seconds since this script did, so a slow
# run (CI's log) shows where the time went.
phase() { echo "== [${SECONDS} s] $*"; }
eval "$(bash scripts/setup.sh)"
bash scripts/setup-browser.sh

phase "the compiler's gates: format, clippy and rustdoc, here and in fuzz/"
cargo fmt --all -- --check
cargo clippy --quiet --all-targets -- -D warnings
# The Worker's glue exists only for wasm32: lint it there too.
cargo clippy --quiet --lib --target wasm32-unknown-unknown -- -D warnings
# admin for WASI too (the bundle's `npm run admin`), where host.rs differs.
bash scripts/admin-wasm.sh
cargo clippy --quiet --bin admin --target wasm32-wasip1 -- -D warnings
RUSTDOCFLAGS=-Dwarnings cargo doc --quiet --no-deps
(cd fuzz && cargo fmt -- --check && cargo clippy --quiet --all-targets -- -D warnings \
  && RUSTDOCFLAGS=-Dwarnings cargo doc --quiet --no-deps)
# Every path the README, docs/ and the module map name exists.
node scripts/check-paths.mjs

phase "native tests (cargo test: both grant stores)"
cargo test --quiet

phase "building the Worker and the admin command"
cargo build --quiet --bin admin
# One Worker: every test picks its store and capabilities with variables
# (tests/e2e/harness.mjs), as an operator does. Quiet when it works; run again
# for its output when it does not.
bash scripts/build.sh >/dev/null 2>&1 || bash scripts/build.sh
# The bundle that deploys without Rust (dist/), for tests/e2e/bundle.test.mjs:
# this Worker and admin compiled to wasm32-wasip1.
node scripts/bundle.mjs >/dev/null 2>&1 || node scripts/bundle.mjs

phase "end-to-end tests against wrangler dev"
# One seeded state per run, copied for each Worker (tests/e2e/harness.mjs),
# in place of eight wrangler calls per start.
rm -rf target/e2e-seeds
E2E_RUN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export E2E_RUN
# Two files at a time: most of a file's time is waiting on wrangler and the
# runtime, not the two cores.
node --test --test-concurrency="${E2E_CONCURRENCY:-2}" --test-reporter=spec \
  $(ls tests/e2e/*.test.mjs | grep -v load.test.mjs)
# The load test alone: with other Workers starting beside it on a 2-core machine,
# wrangler dev was seen to restart the runtime mid-request.
phase "load test (KV and Durable Object modes)"
node --test --test-reporter=spec tests/e2e/load.test.mjs
phase "done"

#!/usr/bin/env bash
# `npm test`: installs what is missing, then runs the compiler's gates, the
# native unit and flow tests of the core, then the end-to-end suite against the
# built Worker under `wrangler dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup.sh)"
bash scripts/setup-browser.sh

echo "== the compiler's gates: format, clippy and rustdoc, here and in fuzz/"
cargo fmt --all -- --check
cargo clippy --quiet --all-targets -- -D warnings
# The Worker's glue exists only for wasm32: lint it there too, with every
# feature and with none (the default build).
cargo clippy --quiet --lib --target wasm32-unknown-unknown --features durable,upstream,es256,account -- -D warnings
cargo clippy --quiet --lib --target wasm32-unknown-unknown -- -D warnings
RUSTDOCFLAGS=-Dwarnings cargo doc --quiet --no-deps
(cd fuzz && cargo fmt -- --check && cargo clippy --quiet --all-targets -- -D warnings \
  && RUSTDOCFLAGS=-Dwarnings cargo doc --quiet --no-deps)
# Every path the README, docs/ and the module map name exists.
node scripts/check-paths.mjs

echo "== native tests (cargo test: both grant stores)"
cargo test --quiet

echo "== building the Worker and the admin command"
cargo build --quiet --bin admin
# The default build (what wrangler.toml deploys as it stands), then one with
# sign-in through providers and ES256, and the Durable Object build with them, for the
# end-to-end tests of those (tests/e2e/harness.mjs picks one per Worker).
# Quiet when it works; run again for its output when it does not.
build() { bash scripts/build.sh >/dev/null 2>&1 || bash scripts/build.sh; }
(unset SIGN_IN_PROVIDERS GRANT_STORE; build)
# Both also with ES256 access tokens compiled in (used when a test sets
# ACCESS_TOKEN_ALG) and the account pages.
SIGN_IN_PROVIDERS=e2e ACCESS_TOKEN_ALG=ES256 ACCOUNT_PAGES=on BUILD_DIR=build-up build
SIGN_IN_PROVIDERS=e2e ACCESS_TOKEN_ALG=ES256 ACCOUNT_PAGES=on GRANT_STORE=DO BUILD_DIR=build-do build

echo "== end-to-end tests against wrangler dev"
node --test --test-reporter=spec $(ls tests/e2e/*.test.mjs | grep -v load.test.mjs)
# The load test alone: with other Workers starting beside it on a 2-core machine,
# wrangler dev was seen to restart the runtime mid-request.
echo "== load test (KV and Durable Object modes)"
node --test --test-reporter=spec tests/e2e/load.test.mjs

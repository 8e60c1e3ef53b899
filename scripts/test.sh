#!/usr/bin/env bash
# `npm test`: installs what is missing, then runs every test: the native unit and
# flow tests of the core, then the end-to-end suite against the built Worker
# under `wrangler dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup.sh)"
bash scripts/setup-browser.sh

echo "== native tests (cargo test)"
cargo fmt --all -- --check
cargo test --quiet
echo "== the same flow tests on the Durable Object store (in-memory objects)"
ALEXA_OAUTH_STORE=objects cargo test --quiet --test flow --test skill_side --test properties

echo "== building the Worker and the admin command"
cargo build --quiet --bin admin
bash scripts/build.sh >/dev/null 2>&1 || bash scripts/build.sh
# And the Durable Object build, for the DO-mode end-to-end tests.
export GRANT_STORE=DO BUILD_DIR=build-do
bash scripts/build.sh >/dev/null 2>&1 || bash scripts/build.sh
unset GRANT_STORE BUILD_DIR

echo "== end-to-end tests against wrangler dev"
node --test --test-reporter=spec $(ls tests/e2e/*.test.mjs | grep -v load.test.mjs)
# The load test alone: with other Workers starting beside it on a 2-core machine,
# wrangler dev was seen to restart the runtime mid-request.
echo "== load test (KV and Durable Object modes)"
node --test --test-reporter=spec tests/e2e/load.test.mjs

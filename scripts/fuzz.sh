#!/usr/bin/env bash
# Runs each cargo-fuzz target for SECONDS (default 600), one after the other,
# starting from the committed seeds in fuzz/corpus/. Needs nightly Rust and
# cargo-fuzz (`cargo install cargo-fuzz`). A crash stops the run and leaves its
# input in fuzz/artifacts/<target>/.
#   bash scripts/fuzz.sh            # 10 minutes per target
#   bash scripts/fuzz.sh 60         # a quick pass
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-600}
for target in form_decode basic_header redirect_match jwt_verify token_request id_token; do
  echo "== $target for ${seconds}s"
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY|Done)' || true
  if [ -n "$(ls artifacts/"$target" 2>/dev/null)" ]; then
    echo "$target found a crash: fuzz/artifacts/$target/"; exit 1
  fi
done

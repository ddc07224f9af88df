#!/usr/bin/env bash
# Live-events benchmark (numbers, no assertions): 1,000 events over 100 secrets through moto's
# EventBridge and SQS into serve-events and a Port emulator answering after 20 ms per request;
# event-to-Port latency p50/p99, Port writes, RSS.
#   scripts/bench-events.sh            debug build (what the tests use)
#   scripts/bench-events.sh --release  release build (what the image ships)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="$(scripts/moto-venv.sh)"
export MOTO_SERVER="$bin/moto_server"
profile=()
if [ "${1:-}" = "--release" ]; then profile=(--release); fi
cargo test "${profile[@]}" --test live_events bench_live_events -- --ignored --nocapture

#!/usr/bin/env bash
# Daemon benchmark (numbers, no assertions): time from start to ready, and idle RSS after 10
# and 100 scheduled resyncs of a 1,000-entity catalog (moto + the Port emulator).
#   scripts/bench-daemon.sh            debug build (what the tests use)
#   scripts/bench-daemon.sh --release  release build (what the image ships)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="$(scripts/moto-venv.sh)"
export MOTO_SERVER="$bin/moto_server"
profile=()
if [ "${1:-}" = "--release" ]; then profile=(--release); fi
cargo test "${profile[@]}" --test daemon bench_idle_rss_and_time_to_ready -- --ignored --nocapture

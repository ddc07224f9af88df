#!/usr/bin/env bash
# Organization benchmark (numbers, no assertions on time): the release binary's `resync` with
# ACCOUNT_STRATEGY=organization over 3 accounts × 4 regions × 1,000 secrets (+ 1 certificate
# per account and region) in moto, through the recording AWS proxy, into the Port emulator;
# a first run and a steady-state run. Prints wall time, CPU time, peak RSS, AWS calls per
# operation against the minimum pages, and Port requests.
#   scripts/bench-org.sh
#   BENCH_SECRETS=3000 scripts/bench-org.sh                 # per account and region
#   BENCH_ACCOUNTS=1 BENCH_SECRETS=3000 scripts/bench-org.sh
# Also: BENCH_CERTIFICATES (per account and region, default 1), BENCH_PORT_LATENCY_MS (20).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ -z "${MOTO_SERVER:-}" ]; then
  MOTO_SERVER="$(scripts/moto-venv.sh)/moto_server"
fi
export MOTO_SERVER
cargo test --release --test bench_org bench_org_resync -- --ignored --nocapture

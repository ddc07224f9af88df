#!/usr/bin/env bash
# Demo on a local default: moto (AWS) seeded with sample data, then a dry-run resync
# that prints the entities port-aws-sync would send to Port.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="$(scripts/moto-venv.sh)"
cargo build --quiet --release --bin port-aws-sync

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
  sleep 0.2
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
export AWS_REGION=us-east-1 AWS_REGIONS=us-east-1,eu-west-1
"$bin/python" scripts/seed_moto.py "$AWS_ENDPOINT_URL" "$AWS_REGIONS"

echo "--- port-aws-sync resync --dry-run (entities on stdout, summary on stderr)" >&2
target/release/port-aws-sync resync --dry-run

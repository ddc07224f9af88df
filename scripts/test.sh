#!/usr/bin/env bash
# The test suite: unit tests, and integration tests against moto and the Port emulator.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="$(scripts/moto-venv.sh)"
export MOTO_SERVER="$bin/moto_server"
if ! command -v openssl >/dev/null; then
  echo "openssl is needed to make test certificates: apt-get install openssl" >&2
  exit 2
fi
cargo test --workspace "$@"

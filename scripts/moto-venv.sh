#!/usr/bin/env bash
# Installs moto (a real implementation of the AWS APIs) into .venv once; prints its bin dir.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "installing moto[server] into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]" >&2
fi
echo "$venv/bin"

#!/usr/bin/env bash
# Demo on a local default: moto (AWS) seeded with sample data and the Port API emulator.
#   scripts/demo.sh            resync into the emulator twice (the second writes nothing), run the
#                              create_aws_secret self-service action through the webhook, edit the
#                              mapping in Port with Save & Resync while the daemon polls, show the
#                              catalog, then one live event: a secret made in AWS reaches Port
#                              through EventBridge, SQS and serve-events
#   scripts/demo.sh --dry-run  print the entities that would be sent, write nothing
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="$(scripts/moto-venv.sh)"
# A debug build: it shares the test suite's build and compiles much faster than --release.
cargo build --quiet --bin port-aws-sync -p port-aws-sync
cargo build --quiet --bin port-emulator -p port-emulator

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 100); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "$1 did not answer" >&2; exit 1; }

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
moto_port=$(free_port)
"$bin/moto_server" -H 127.0.0.1 -p "$moto_port" >/dev/null 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$moto_port/moto-api/"

export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
export AWS_REGION=us-east-1 AWS_REGIONS=us-east-1,eu-west-1
"$bin/python" scripts/seed_moto.py "$AWS_ENDPOINT_URL" "$AWS_REGIONS"

if [ "${1:-}" = "--dry-run" ]; then
  echo "--- port-aws-sync resync --dry-run (entities on stdout, summary on stderr)" >&2
  exec target/debug/port-aws-sync resync --dry-run
fi

port_port=$(free_port)
# Port encrypts secret inputs with the first 32 bytes of the client secret: a realistic length.
client_secret=demo-client-secret-0123456789abcdef
target/debug/port-emulator --bind "127.0.0.1:$port_port" --credentials "demo-client:$client_secret" >/dev/null 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$port_port/_emulator/requests"
export PORT_BASE_URL="http://127.0.0.1:$port_port" PORT_CLIENT_ID=demo-client PORT_CLIENT_SECRET="$client_secret"
export LOG_LEVEL=warn

echo "--- first resync: blueprints and entities are created" >&2
target/debug/port-aws-sync resync
echo "--- second resync: nothing changed in AWS, so nothing is written" >&2
target/debug/port-aws-sync resync

echo "--- self-service action: create_aws_secret through the webhook (serve-actions)" >&2
actions_port=$(free_port)
LISTEN_ADDR="127.0.0.1:$actions_port" target/debug/port-aws-sync serve-actions &
pids+=($!)
wait_for "http://127.0.0.1:$actions_port/health/live"
# Port creates the run when a user executes the action; the emulator's admin API stands in.
curl -fsS -X POST "$PORT_BASE_URL/_emulator/runs" -H 'content-type: application/json' \
  -d '{"id": "r_demo", "action": "create_aws_secret"}' >/dev/null
"$bin/python" scripts/port_invoke.py "http://127.0.0.1:$actions_port/webhook" \
  actions/create_aws_secret.json r_demo "$client_secret" \
  '{"secretName": "demo/created-from-port", "secretValue": "s3cr3t", "operation": "upsert", "description": "made by the demo action"}' >&2

echo "--- the mapping managed in Port: the daemon polls, a user edits the mapping and presses Save & Resync" >&2
daemon_port=$(free_port)
EVENT_LISTENER_INTERVAL_SECONDS=2 LISTEN_ADDR="127.0.0.1:$daemon_port" \
  target/debug/port-aws-sync run --no-resync-on-start &
daemon_pid=$!
pids+=($daemon_pid)
wait_for "http://127.0.0.1:$daemon_port/health/ready"
# As a user would in Port's UI: the secrets' title now says where the mapping lives.
curl -fsS "$PORT_BASE_URL/_emulator/integrations/aws-sync" | python3 -c '
import json, sys
config = json.load(sys.stdin)["integration"]["config"]
for resource in config["resources"]:
    if resource["kind"] == "AWS::SecretsManager::Secret":
        resource["port"]["entity"]["mappings"]["title"] = ".Name + \" (mapping edited in Port)\""
print(json.dumps({"config": config}))
' | curl -fsS -X POST "$PORT_BASE_URL/_emulator/integrations/aws-sync/save-and-resync" \
  -H 'content-type: application/json' -d @- >/dev/null
saved=$(date +%s.%N)
for _ in $(seq 300); do
  secrets=$(curl -fsS "$PORT_BASE_URL/_emulator/entities/awsSecret")
  [[ $secrets == *"mapping edited in Port"* ]] && break
  sleep 0.1
done
python3 -c "import sys, time; print('Save & Resync -> entities written: %.1fs (poll interval 2s)' % (time.time() - float(sys.argv[1])))" "$saved" >&2
resync_state() {
  curl -fsS "$PORT_BASE_URL/_emulator/integrations/aws-sync" | python3 -c '
import json, sys
state = json.load(sys.stdin)["integration"]["resyncState"]
print("%s (started %s, ended %s)" % (state["status"], state["lastResyncStart"], state["lastResyncEnd"]))'
}
for _ in $(seq 300); do
  [[ $(resync_state) == running* ]] || break
  sleep 0.1
done
echo "resync state in Port: $(resync_state)" >&2
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true

echo "--- the catalog in the Port emulator" >&2
for blueprint in awsAccount acmCertificate awsSecret; do
  curl -fsS "$PORT_BASE_URL/_emulator/entities/$blueprint" | python3 -c '
import json, sys
blueprint = sys.argv[1]
for e in json.load(sys.stdin)["entities"]:
    account = e["relations"].get("account")
    line = "%-15s %-32s %s" % (blueprint, e["title"], e["identifier"])
    print(line + ("  -> account %s" % account if account else ""))
' "$blueprint"
done

echo "--- live event: a secret created in AWS reaches Port through EventBridge and SQS (serve-events)" >&2
queue_url=$("$bin/python" scripts/live_event.py setup "$AWS_ENDPOINT_URL")
events_port=$(free_port)
LIVE_EVENTS_QUEUE_URL="$queue_url" LISTEN_ADDR="127.0.0.1:$events_port" target/debug/port-aws-sync serve-events &
pids+=($!)
wait_for "http://127.0.0.1:$events_port/health/ready"
"$bin/python" scripts/live_event.py change "$AWS_ENDPOINT_URL" "$PORT_BASE_URL"

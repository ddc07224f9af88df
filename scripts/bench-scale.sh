#!/usr/bin/env bash
# Scale benchmark (numbers, no assertions on time or memory): the release binary against a
# synthetic AWS endpoint (aws-synthetic/: ListSecrets and ListCertificates pages generated for
# N items per region; STS and Organizations from moto) and the Port emulator as its own
# process, at 10,000, 100,000 and 1,000,000 entities. Per size, each a fresh process: a first
# resync into an empty Port, a steady resync (nothing changed), and `resync --dry-run`.
# Prints wall time, CPU time and peak RSS, measured by peak-rss (a ~2 MiB parent doing
# nothing else: a child's max RSS starts from its parent's), Port requests from the
# emulator's request log (every request, token and integration record included; bulk writes
# beside), AWS list calls from aws-synthetic's counters, and the RSS slope between sizes.
#   scripts/bench-scale.sh
#   BENCH_SIZES="10000 100000" scripts/bench-scale.sh
# Also: BENCH_PORT_LATENCY_MS (20) added to every Port request. Entities per size: the
# size split evenly over four regions, 90 % secrets and 10 % certificates, plus the one
# account. Passed through to the binary: PORT_MAX_IN_FLIGHT, AWS_REGION_CONCURRENCY,
# MIMALLOC_*, TOKIO_* (for experiments). The 1,000,000 first resync is 50,000 bulk
# requests of 20 entities, 8 in flight by default; on a shared 2-core machine the whole run
# took 13 minutes (1,000,000 entities: first 5 min, steady 6 min, dry-run 1 min).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

for tool in curl jq python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench-scale.sh needs $tool (apt-get install $tool)" >&2
    exit 2
  fi
done
if [ -z "${MOTO_SERVER:-}" ]; then
  MOTO_SERVER="$(scripts/moto-venv.sh)/moto_server"
fi
read -r -a sizes <<<"${BENCH_SIZES:-10000 100000 1000000}"
for size in "${sizes[@]}"; do
  if ! [[ "$size" =~ ^[0-9]+$ ]] || [ "$size" -lt 4 ]; then
    echo "BENCH_SIZES must be whole numbers of at least 4, got ${BENCH_SIZES:-}" >&2
    exit 2
  fi
done
latency_ms="${BENCH_PORT_LATENCY_MS:-20}"
if ! [[ "$latency_ms" =~ ^[0-9]+$ ]]; then
  echo "BENCH_PORT_LATENCY_MS must be a whole number of milliseconds, got $latency_ms" >&2
  exit 2
fi
regions=(eu-west-1 us-east-1 us-west-2 ap-south-1)

# Two builds: the binary alone, as the Dockerfile builds it (built beside the emulator, its
# dependencies would get the emulator's features and the binary would not be the shipped one).
cargo build --release -p port-aws-sync --bin port-aws-sync
cargo build --release -p port-emulator -p aws-synthetic --bins
release="${CARGO_TARGET_DIR:-$root/target}/release"

work="$(mktemp -d)"
servers=()
moto_pid=""
stop_servers() {
  for pid in "${servers[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  servers=()
}
cleanup() {
  stop_servers
  if [ -n "$moto_pid" ]; then
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# Copied: another checkout sharing the target directory may rebuild them in place meanwhile.
mkdir "$work/bin" "$work/home"
for bin in port-aws-sync port-emulator aws-synthetic peak-rss; do
  cp "$release/$bin" "$work/bin/"
done

# The URL a server prints in its "listening on http://…" line.
listening_url() {
  local out="$1" url
  for _ in $(seq 300); do
    url="$(grep -o -m1 'listening on http://[0-9.:]*' "$out" | sed 's/^listening on //' || true)"
    if [ -n "$url" ]; then
      echo "$url"
      return
    fi
    sleep 0.1
  done
  echo "no 'listening on' line from a server in 30 s; its output:" >&2
  cat "$out" "$out.err" >&2
  return 1
}

moto_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$MOTO_SERVER" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
moto_pid=$!
moto_url="http://127.0.0.1:$moto_port"
for _ in $(seq 300); do
  curl -sf -o /dev/null "$moto_url/moto-api/" && break
  sleep 0.1
done
curl -sf -o /dev/null "$moto_url/moto-api/" || {
  echo "moto did not answer on $moto_url:" >&2
  cat "$work/moto.log" >&2
  exit 1
}

# Sum of one counter ("mapped", "unchanged", "created", "updated") over the resync report's
# per-blueprint lines: "  awsSecret: 0 in Port before, 500 mapped, 0 unchanged, 500 created, …".
report_sum() {
  awk -v field="$2" '/ in Port before, / {
    for (i = 1; i < NF; i++) if ($(i + 1) ~ "^" field ",?$") sum += $i
  } END { print sum + 0 }' "$1"
}

measured() { grep -o "$1=[^ ]*" "$work/measured" | cut -d= -f2; }

rows=()
failed=0
echo "scale benchmark $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD), $(nproc) cores; \
regions ${regions[*]}; Port latency $latency_ms ms per request; binary $(($(stat -c %s "$work/bin/port-aws-sync") / 1024 / 1024)) MiB"
for size in "${sizes[@]}"; do
  per_region=$((size / ${#regions[@]}))
  certificates=$((per_region / 10))
  secrets=$((per_region - certificates))
  entities=$((${#regions[@]} * (secrets + certificates) + 1))

  "$work/bin/port-emulator" --bind 127.0.0.1:0 --credentials bench:bench-secret \
    --latency-ms "$latency_ms" >"$work/port.out" 2>"$work/port.out.err" &
  servers+=($!)
  AWS_SYNTHETIC_SECRETS_PER_REGION="$secrets" AWS_SYNTHETIC_CERTIFICATES_PER_REGION="$certificates" \
    "$work/bin/aws-synthetic" >"$work/aws.out" 2>"$work/aws.out.err" &
  servers+=($!)
  port_url="$(listening_url "$work/port.out")"
  aws_url="$(listening_url "$work/aws.out")"
  echo "$entities entities: ${#regions[@]} regions × ($secrets secrets + $certificates certificates) + 1 account" >&2

  run_env=(
    PATH="$PATH" HOME="$work/home"
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
    AWS_ENDPOINT_URL="$moto_url"
    AWS_ENDPOINT_URL_SECRETS_MANAGER="$aws_url" AWS_ENDPOINT_URL_ACM="$aws_url"
    AWS_REGIONS="$(IFS=,; echo "${regions[*]}")"
    PORT_BASE_URL="$port_url" PORT_CLIENT_ID=bench PORT_CLIENT_SECRET=bench-secret
  )
  while IFS= read -r setting; do
    run_env+=("$setting")
  done < <(env | grep -E '^(PORT_MAX_IN_FLIGHT|AWS_REGION_CONCURRENCY|MIMALLOC_[A-Z_]+|TOKIO_[A-Z_]+)=' || true)

  for run in first steady dry-run; do
    curl -sf -X DELETE "$port_url/_emulator/requests"
    curl -sf -X DELETE "$aws_url/_synthetic/requests"
    log="$work/$size-$run.log"
    rm -f "$work/measured"
    started="$(date +%s)"
    if [ "$run" = dry-run ]; then
      printed="$(env -i "${run_env[@]}" "$work/bin/peak-rss" --output "$work/measured" -- \
        "$work/bin/port-aws-sync" resync --dry-run 2>"$log" | wc -l)" || true
    else
      env -i "${run_env[@]}" "$work/bin/peak-rss" --output "$work/measured" -- \
        "$work/bin/port-aws-sync" resync >/dev/null 2>"$log" || true
    fi
    if [ ! -s "$work/measured" ] || [ "$(measured exit)" != 0 ]; then
      echo "$run resync of $entities entities failed after $(($(date +%s) - started)) s; the end of its log:" >&2
      tail -n 30 "$log" >&2
      exit 1
    fi
    port_requests="$(curl -sf "$port_url/_emulator/requests" | jq '.total')"
    bulk_writes="$(curl -sf "$port_url/_emulator/requests" |
      jq '[.requests[] | select(.path | endswith("/entities/bulk")) | .count] | add // 0')"
    aws_calls="$(curl -sf "$aws_url/_synthetic/requests" | jq '[.[]] | add')"
    # What the run did, checked against what it should have done.
    case "$run" in
      first) done_count=$(($(report_sum "$log" created) + $(report_sum "$log" updated))) ;;
      steady) done_count="$(report_sum "$log" unchanged)" ;;
      dry-run) done_count="$printed" ;;
    esac
    check=ok
    if [ "$done_count" != "$entities" ]; then
      check="MISMATCH: $done_count of $entities"
      failed=1
    fi
    rows+=("$entities $run $(measured wall_s) $(measured cpu_s) $(measured peak_rss_kib) $port_requests $bulk_writes $aws_calls $check")
    echo "  $run: $(cat "$work/measured")" >&2
  done
  stop_servers
done

echo
printf '%10s  %-8s %9s %9s %13s %10s %8s %10s  %s\n' \
  entities run wall CPU "peak RSS" "Port reqs" "(bulk)" "AWS calls" "entities written / unchanged / printed"
for row in "${rows[@]}"; do
  read -r entities run wall cpu rss_kib port bulk aws check <<<"$row"
  printf '%10s  %-8s %8.2fs %8.2fs %9.1f MiB %10s %8s %10s  %s\n' \
    "$entities" "$run" "$wall" "$cpu" "$(echo "$rss_kib" | awk '{print $1 / 1024}')" "$port" "$bulk" "$aws" "$check"
done

if [ "${#sizes[@]}" -gt 1 ]; then
  echo
  echo "peak RSS slope between sizes (bytes of peak RSS per 1,000 more entities):"
  for run in first steady dry-run; do
    previous=""
    for row in "${rows[@]}"; do
      read -r entities kind _ _ rss_kib _ <<<"$row"
      [ "$kind" = "$run" ] || continue
      if [ -n "$previous" ]; then
        read -r entities0 rss0 <<<"$previous"
        awk -v run="$run" -v n0="$entities0" -v n1="$entities" -v r0="$rss0" -v r1="$rss_kib" 'BEGIN {
          slope = (r1 - r0) * 1024 / ((n1 - n0) / 1000)
          printf "  %-8s %9d → %9d entities: %12.0f B per 1,000 entities (%.0f B per entity)\n",
            run, n0, n1, slope, slope / 1000
        }'
      fi
      previous="$entities $rss_kib"
    done
  done
fi
exit "$failed"

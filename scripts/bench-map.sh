#!/usr/bin/env bash
# The mapping stage on the command line: `port-aws-sync map` against the jq CLI running the
# same expressions, on synthetic ACM items (the generator of benches/mapping.rs).
#
#   scripts/bench-map.sh [ITEMS...]      default: 10000 100000 (100,000 items ≈ 85 MB)
#
# Prints wall and CPU time (best of $RUNS runs, default 3), entities/s, the speed ratio and the
# peak RSS of both tools at each size. CPU time (user + sys) is the steadier figure on a busy
# machine. Nothing is asserted on time; the script fails only if the two tools produce different
# entities.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
runs="${RUNS:-3}"
if [ "$#" -gt 0 ]; then sizes=("$@"); else sizes=(10000 100000); fi
largest=$(printf '%s\n' "${sizes[@]}" | sort -n | tail -n1)
kind="AWS::ACM::Certificate"

can_apt() { command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; }

# The ACM resource of mapping/port-app-config.yml written as one jq program, producing the
# entity with the same keys in the same order as port-aws-sync prints them: items whose
# identifier is null are skipped and a null title is left out, as the mapping does.
read -r -d '' jq_program <<'JQ' || true
select(true)
| select(.CertificateArn != null)
| {identifier: .CertificateArn, blueprint: "acmCertificate"}
  + (if .DomainName == null then {} else {title: .DomainName} end)
  + {properties: {status: .Status, type: .Type, arn: .CertificateArn,
                  renewalEligibility: .RenewalEligibility, keyAlgorithm: .KeyAlgorithm,
                  inUse: .InUse, createdAt: .CreatedAt, expirationDate: .NotAfter},
     relations: {account: .__AccountId}}
JQ

if ! command -v jq >/dev/null && can_apt; then
  echo "installing jq (apt-get install -y jq)" >&2
  apt-get install -y -qq jq >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; } || true
fi
jq_bin="$(command -v jq || true)"
[ -n "$jq_bin" ] || echo "jq is not installed and cannot be installed here: the jq comparison is skipped" >&2

if [ ! -x /usr/bin/time ] && can_apt; then
  echo "installing GNU time (apt-get install -y time)" >&2
  apt-get install -y -qq time >/dev/null 2>&1 || true
fi

echo "building port-aws-sync (release) and generating $largest synthetic ACM items..." >&2
cargo build --quiet --release --bin port-aws-sync
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A copy taken right after the build: a build in another checkout sharing the target directory
# cannot swap the binary while the benchmark runs.
bin="$work/port-aws-sync"
cp "$target/release/port-aws-sync" "$bin"
if ! "$bin" map --help >/dev/null 2>&1; then
  echo "error: $target/release/port-aws-sync has no map command: a build of another checkout?" >&2
  exit 1
fi
cargo bench --quiet --bench mapping -- --emit "$largest" >"$work/items-$largest.ndjson"
for n in "${sizes[@]}"; do
  [ -f "$work/items-$n.ndjson" ] || head -n "$n" "$work/items-$largest.ndjson" >"$work/items-$n.ndjson"
done

# measure OUTPUT COMMAND... : sets wall and cpu (seconds) and rss_kb (peak resident set) of one
# run.
# GNU time reads the peak RSS from wait4(2); without it, python's os.wait4 does the same.
measure() {
  local out="$1"
  shift
  if [ -x /usr/bin/time ]; then
    local start end
    start=$(date +%s%N)
    /usr/bin/time -f '%U %S %M' -o "$work/rss" "$@" >"$out" 2>>"$work/stderr"
    end=$(date +%s%N)
    wall=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }')
    read -r user sys rss_kb < <(tail -n1 "$work/rss")
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  else
    read -r wall cpu rss_kb < <(python3 - "$out" "$work/stderr" "$@" <<'PY'
import os, subprocess, sys, time
with open(sys.argv[1], "wb") as out, open(sys.argv[2], "ab") as err:
    started = time.perf_counter()
    child = subprocess.Popen(sys.argv[3:], stdout=out, stderr=err)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
if status != 0:
    sys.exit(f"{sys.argv[3]} failed with status {status}")
print(f"{wall:.3f} {usage.ru_utime + usage.ru_stime:.2f} {usage.ru_maxrss}")
PY
    )
  fi
}

# best_of OUTPUT COMMAND... : the least wall and CPU time of $runs runs, the largest peak RSS.
best_of() {
  local best="" best_cpu="" peak=0
  for _ in $(seq "$runs"); do
    measure "$@"
    if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$wall; fi
    if [ -z "$best_cpu" ] || awk -v a="$cpu" -v b="$best_cpu" 'BEGIN { exit !(a < b) }'; then best_cpu=$cpu; fi
    [ "$rss_kb" -gt "$peak" ] && peak=$rss_kb
  done
  wall=$best
  cpu=$best_cpu
  rss_kb=$peak
}

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

jq_version="$([ -n "$jq_bin" ] && "$jq_bin" --version || echo "jq (absent)")"
row() { printf '%-9s %-8s %-20s %8s %7s %13s %12s\n' "$@"; }
echo
row items input tool "wall s" "cpu s" "entities/s" "peak RSS MB"
status=0
summary=()
for n in "${sizes[@]}"; do
  input="$work/items-$n.ndjson"
  size_mb=$(awk -v b="$(stat -c %s "$input")" 'BEGIN { printf "%.1fMB", b / 1048576 }')
  best_of "$work/map.out" "$bin" --mapping mapping/port-app-config.yml map --kind "$kind" --input "$input"
  map_wall=$wall
  map_cpu=$cpu
  entities=$(wc -l <"$work/map.out")
  row "$n" "$size_mb" "port-aws-sync map" "$wall" "$cpu" "$(rate "$entities" "$wall")" "$(mb "$rss_kb")"
  [ -n "$jq_bin" ] || continue
  best_of "$work/jq.out" "$jq_bin" -c "$jq_program" "$input"
  row "$n" "$size_mb" "$jq_version" "$wall" "$cpu" "$(rate "$(wc -l <"$work/jq.out")" "$wall")" "$(mb "$rss_kb")"
  ratio=$(awk -v j="$wall" -v m="$map_wall" 'BEGIN { printf "%.1f", (m > 0 ? j / m : 0) }')
  cpu_ratio=$(awk -v j="$cpu" -v m="$map_cpu" 'BEGIN { printf "%.1f", (m > 0 ? j / m : 0) }')
  if cmp -s "$work/map.out" "$work/jq.out"; then
    same="byte-identical"
  elif python3 - "$work/map.out" "$work/jq.out" <<'PY'
import json, sys
with open(sys.argv[1]) as a, open(sys.argv[2]) as b:
    ours, theirs = a.readlines(), b.readlines()
if len(ours) != len(theirs):
    sys.exit(f"map printed {len(ours)} entities, jq {len(theirs)}")
for number, (x, y) in enumerate(zip(ours, theirs), 1):
    if json.loads(x) != json.loads(y):
        sys.exit(f"entity {number} differs:\n  map: {x.strip()}\n  jq:  {y.strip()}")
PY
  then
    same="identical as JSON"
  else
    same="DIFFERENT"
    status=1
  fi
  summary+=("$n items: map is ${ratio}x jq's speed (${cpu_ratio}x by CPU time); $entities entities, outputs $same")
done
echo
for line in "${summary[@]}"; do echo "$line"; done
echo "(best of $runs runs; peak RSS from wait4; $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "(map's last summary: $(grep '^map ' "$work/stderr" | tail -n1))"
exit "$status"

#!/usr/bin/env bash
# One libqb client (`qbn-client bench`, blocking round trips, SHM) against libqb's `qbn-server` and against jqb echo
# servers of one build with different loop wait strategies, pinned (client on the server's CPU) and split (client on
# the other CPU), the servers alternating within every round: what a strategy does to the one-client cells, next to
# what it does at 100 clients (scale-timeline.sh / scale-ab.sh with BUILD@WAIT). Prints one line per run, then per
# server and CPU set the medians of p50, p99 and round trips/s.
#
# Usage: benchmarks/wait-ab.sh [ROUNDS=3] [WAIT...]   (default WAITs: block phased:0:20; "block" = the default loop)
# Knobs: BUILD (this checkout), COUNT (20000), WARMUP (2000), SIZE (64), CPU_SERVER (0), CPU_CLIENT (1).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
. "$root/benchmarks/lib.sh"

ROUNDS=${1:-3}
shift 2>/dev/null || true
waits=("$@")
[ ${#waits[@]} -gt 0 ] || waits=(block phased:0:20)
BUILD=${BUILD:-$root}
COUNT=${COUNT:-20000}
WARMUP=${WARMUP:-2000}
SIZE=${SIZE:-64}
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
NCLI="$root/native/build/qbn-client"
need_native wait-ab "$NCLI"
export JQB_LOG_LEVEL=${JQB_LOG_LEVEL:-warn}
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-wait-ab"

start_work wait-ab
declare -A SVC
SVC_PREFIX=jqbwab

keys=(native)
start_service native taskset -c "$CPU_SERVER" "$root/native/build/qbn-server" --transport shm
for w in "${waits[@]}"; do
    args=()
    [ "$w" != block ] && args=(--wait "$w")
    start_service "$w" taskset -c "$CPU_SERVER" "$BUILD/bin/jqb" echo-server --transport shm "${args[@]}"
    keys+=("$w")
    timeout 120 "$NCLI" bench --service "${SVC[$w]}" --count 30000 --size "$SIZE" --max 8192 --warmup 0 >/dev/null 2>&1 # JIT
done

echo "== $SIZE B SHM, $COUNT round trips after $WARMUP per run; server on CPU $CPU_SERVER; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
n=${#keys[@]}
for r in $(seq 1 "$ROUNDS"); do
    for cpus in pinned split; do
        cpu=$CPU_SERVER
        [ "$cpus" = split ] && cpu=$CPU_CLIENT
        for i in $(seq 0 $((n - 1))); do
            k=${keys[$(( (i + r) % n ))]}
            line=$(timeout 120 taskset -c "$cpu" "$NCLI" bench --service "${SVC[$k]}" --count "$COUNT" --size "$SIZE" --max 8192 \
                --warmup "$WARMUP" 2>&1 | grep '^size=')
            [ -n "$line" ] || echo "wait-ab: round $r $cpus against $k failed or timed out (120 s)" >&2
            echo "round=$r cpus=$cpus server=$k p50_ns=$(field "$line" p50_ns) p99_ns=$(field "$line" p99_ns)" \
                "msgs_per_s=$(field "$line" msgs_per_s)" | tee -a "$work/results"
        done
    done
done
echo "== medians over $ROUNDS rounds"
for cpus in pinned split; do
    for k in "${keys[@]}"; do
        out="cpus=$cpus server=$k"
        for key in p50_ns p99_ns msgs_per_s; do
            out="$out $key=$(grep -F "cpus=$cpus server=$k " "$work/results" | while read -r l; do field "$l" "$key"; done | median)"
        done
        echo "$out"
    done
done

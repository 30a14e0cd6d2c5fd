#!/usr/bin/env bash
# A/B of connection set-up (connect + handshake + close, p50/p99 of COUNT connects after WARMUP) between jqb builds
# and native libqb, every pairing that has a jqb end: native client -> jqb server, jqb client -> native server,
# jqb -> jqb; native -> native as each round's reference. SHM and SOCKET, pinned (client and server on CPU_SERVER)
# and split (client on CPU_CLIENT). Builds and the native reference alternate within every round (set-up time on
# this VM moves from minute to minute); each cell's ratio is to its own round's native -> native.
# One line per run, then per build and cell the medians over the rounds.
#
# Usage: benchmarks/connect-ab.sh [ROUNDS=3] [BUILD_DIR...]   (a build: a checkout with `make` done; default: this)
# Knobs: COUNT (2000), WARMUP (10000: C2 compiles a once-per-connect method after ~5000 calls (Tier4InvocationThreshold), so a jqb client is timed after that; each jqb server
# first serves 6000), TRANSPORTS ("shm socket"), CPUSETS ("pinned split"), CPU_SERVER (0), CPU_CLIENT (1),
# PAIRS ("nj jn jj": native->jqb, jqb->native, jqb->jqb).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/lib.sh"

ROUNDS=${1:-3}
shift 1 2>/dev/null || true
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("$root")
COUNT=${COUNT:-2000}
WARMUP=${WARMUP:-10000}
read -r -a TRANSPORTS <<<"${TRANSPORTS:-shm socket}"
read -r -a CPUSETS <<<"${CPUSETS:-pinned split}"
read -r -a PAIRS <<<"${PAIRS:-nj jn jj}"
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
MAX=65576
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
export JQB_LOG_LEVEL=warn
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-connect-ab"

start_work connect-ab
declare -A SVC
SVC_PREFIX=jqbcab
for t in "${TRANSPORTS[@]}"; do
    start_service "n-$t" taskset -c "$CPU_SERVER" "$NSRV" --transport "$t"
    i=0
    for b in "${builds[@]}"; do
        i=$((i + 1))
        start_service "j$i-$t" taskset -c "$CPU_SERVER" "$b/bin/jqb" echo-server --transport "$t"
        "$NCLI" bench-connect --service "${SVC[j$i-$t]}" --count 6000 --max "$MAX" >/dev/null 2>&1 # server JIT
    done
done

cell() { # label cpu client-executable service
    local label=$1 cpu=$2 cli=$3 svc=$4 line
    line=$(taskset -c "$cpu" "$cli" bench-connect --service "$svc" --count "$COUNT" --warmup "$WARMUP" \
        --max "$MAX" 2>"$work/cell.err" | grep '^connect ')
    [ -n "$line" ] || { echo "connect-ab: $label failed:" >&2; tail -3 "$work/cell.err" >&2; line="connect -"; }
    echo "round=$r $label $line" | tee -a "$work/results"
}

for r in $(seq 1 "$ROUNDS"); do
    for t in "${TRANSPORTS[@]}"; do
        for cpus in "${CPUSETS[@]}"; do
            ccpu=$CPU_SERVER
            [ "$cpus" = split ] && ccpu=$CPU_CLIENT
            cell "cell=$t-$cpus pair=nn build=native" "$ccpu" "$NCLI" "${SVC[n-$t]}"
            i=0
            for b in "${builds[@]}"; do
                i=$((i + 1))
                for p in "${PAIRS[@]}"; do
                    case $p in
                        nj) cell "cell=$t-$cpus pair=nj build=$i" "$ccpu" "$NCLI" "${SVC[j$i-$t]}" ;;
                        jn) cell "cell=$t-$cpus pair=jn build=$i" "$ccpu" "$b/bin/jqb" "${SVC[n-$t]}" ;;
                        jj) cell "cell=$t-$cpus pair=jj build=$i" "$ccpu" "$b/bin/jqb" "${SVC[j$i-$t]}" ;;
                    esac
                done
            done
        done
    done
done

echo "== medians over $ROUNDS rounds (x: median of each round's p50 / that round's native -> native p50)"
i=0
for b in "${builds[@]}"; do
    i=$((i + 1))
    echo "build $i: $b"
    for t in "${TRANSPORTS[@]}"; do
        for cpus in "${CPUSETS[@]}"; do
            for p in "${PAIRS[@]}"; do
                pat="cell=$t-$cpus pair=$p build=$i "
                p50=$(grep -F "$pat" "$work/results" | while read -r l; do field "$l" p50_ns; done | median)
                p99=$(grep -F "$pat" "$work/results" | while read -r l; do field "$l" p99_ns; done | median)
                x=$(for rr in $(seq 1 "$ROUNDS"); do
                    n=$(field "$(grep -F "round=$rr cell=$t-$cpus pair=nn " "$work/results")" p50_ns)
                    j=$(field "$(grep -F "round=$rr $pat" "$work/results")" p50_ns)
                    [ -n "$n" ] && [ -n "$j" ] && awk -v a="$j" -v b="$n" 'BEGIN { printf "%.2f\n", a / b }'
                done | median)
                printf '  %-6s %-6s %s p50_ns=%s p99_ns=%s x_native=%s\n' "$t" "$cpus" "$p" "$p50" "$p99" "$x"
            done
        done
    done
done

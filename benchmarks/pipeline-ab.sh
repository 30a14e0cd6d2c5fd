#!/usr/bin/env bash
# A/B of pipelined throughput (requests without waiting for each response; msgs/s of COUNT requests after WARMUP
# blocking round trips and WARMUP pipelined ones, as bench-compare.sh measures it) between jqb builds and native
# libqb, every pairing that has a jqb end: native client -> jqb server, jqb client -> native server, jqb -> jqb;
# native -> native as each round's reference. Builds and the native reference alternate within every round
# (throughput on this VM moves from minute to minute); each cell's ratio is to its own round's native -> native.
# One line per run, then per build and cell the medians over the rounds (x: higher is better).
#
# Usage: benchmarks/pipeline-ab.sh [ROUNDS=3] [BUILD_DIR...]   (a build: a checkout with `make` done; default: this)
# Knobs: COUNT (40000), WARMUP (20000), SIZES ("64 4096"), TRANSPORTS ("shm socket"), CPUSETS ("pinned split"),
# CPU_SERVER (0), CPU_CLIENT (1), PAIRS ("nj jn jj"), PIPELINE (1; 0 = blocking round trips instead, one request
# outstanding: the same cells and ratios, plus each cell's median p50, to show a change costs blocking nothing).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/lib.sh"

ROUNDS=${1:-3}
shift 1 2>/dev/null || true
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("$root")
COUNT=${COUNT:-40000}
WARMUP=${WARMUP:-20000}
read -r -a SIZES <<<"${SIZES:-64 4096}"
read -r -a TRANSPORTS <<<"${TRANSPORTS:-shm socket}"
read -r -a CPUSETS <<<"${CPUSETS:-pinned split}"
read -r -a PAIRS <<<"${PAIRS:-nj jn jj}"
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
PIPELINE=${PIPELINE:-1}
PIPE_FLAG=--pipeline
[ "$PIPELINE" = 0 ] && PIPE_FLAG=
MAX=65576
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
export JQB_LOG_LEVEL=warn
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-pipeline-ab"

start_work pipeline-ab
declare -A SVC
SVC_PREFIX=jqbpab
for t in "${TRANSPORTS[@]}"; do
    start_service "n-$t" taskset -c "$CPU_SERVER" "$NSRV" --transport "$t"
    i=0
    for b in "${builds[@]}"; do
        i=$((i + 1))
        start_service "j$i-$t" taskset -c "$CPU_SERVER" "$b/bin/jqb" echo-server --transport "$t"
        for s in "${SIZES[@]}"; do # the jqb servers' pipelined path, warmed with itself
            "$NCLI" bench --service "${SVC[j$i-$t]}" --count "$COUNT" --size "$s" --max "$MAX" --warmup 0 \
                --pipeline >/dev/null 2>&1
        done
    done
done

cell() { # label cpu size client-executable service
    local label=$1 cpu=$2 size=$3 cli=$4 svc=$5 line
    line=$(taskset -c "$cpu" "$cli" bench --service "$svc" --count "$COUNT" --size "$size" --max "$MAX" \
        --warmup "$WARMUP" $PIPE_FLAG 2>"$work/cell.err" | grep '^size=')
    [ -n "$line" ] || { echo "pipeline-ab: $label failed:" >&2; tail -3 "$work/cell.err" >&2; line="size=-"; }
    echo "round=$r $label $line" | tee -a "$work/results"
}

for r in $(seq 1 "$ROUNDS"); do
    for t in "${TRANSPORTS[@]}"; do
        for cpus in "${CPUSETS[@]}"; do
            ccpu=$CPU_SERVER
            [ "$cpus" = split ] && ccpu=$CPU_CLIENT
            for s in "${SIZES[@]}"; do
                c="cell=$t-$cpus-$s"
                cell "$c pair=nn build=native" "$ccpu" "$s" "$NCLI" "${SVC[n-$t]}"
                i=0
                for b in "${builds[@]}"; do
                    i=$((i + 1))
                    for p in "${PAIRS[@]}"; do
                        case $p in
                            nj) cell "$c pair=nj build=$i" "$ccpu" "$s" "$NCLI" "${SVC[j$i-$t]}" ;;
                            jn) cell "$c pair=jn build=$i" "$ccpu" "$s" "$b/bin/jqb" "${SVC[n-$t]}" ;;
                            jj) cell "$c pair=jj build=$i" "$ccpu" "$s" "$b/bin/jqb" "${SVC[j$i-$t]}" ;;
                        esac
                    done
                done
            done
        done
    done
done

echo "== medians over $ROUNDS rounds (x: median of each round's msgs/s / that round's native -> native msgs/s)"
i=0
for b in "${builds[@]}"; do
    i=$((i + 1))
    echo "build $i: $b"
    for t in "${TRANSPORTS[@]}"; do
        for cpus in "${CPUSETS[@]}"; do
            for s in "${SIZES[@]}"; do
                for p in "${PAIRS[@]}"; do
                    pat="cell=$t-$cpus-$s pair=$p build=$i "
                    rate=$(grep -F "$pat" "$work/results" | while read -r l; do field "$l" msgs_per_s; done | median)
                    x=$(for rr in $(seq 1 "$ROUNDS"); do
                        n=$(field "$(grep -F "round=$rr cell=$t-$cpus-$s pair=nn " "$work/results")" msgs_per_s)
                        j=$(field "$(grep -F "round=$rr $pat" "$work/results")" msgs_per_s)
                        [ -n "$n" ] && [ -n "$j" ] && awk -v a="$j" -v b="$n" 'BEGIN { printf "%.2f\n", a / b }'
                    done | median)
                    p50=
                    if [ "$PIPELINE" = 0 ]; then
                        p50=" p50_ns=$(grep -F "$pat" "$work/results" | while read -r l; do field "$l" p50_ns; done \
                            | median)"
                    fi
                    printf '  %-6s %-6s %5s %s msgs_per_s=%s x_native=%s%s\n' "$t" "$cpus" "$s" "$p" "$rate" "$x" "$p50"
                done
            done
        done
    done
done

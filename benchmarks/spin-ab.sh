#!/usr/bin/env bash
# A/B of jqb <-> jqb spin round trips against the hardware floor: for each round, one qbn-floor run, then each
# given build (a checkout with `make` done: bin/jqb, target/, native/build/) as a spinning echo server on one CPU
# and a spinning bench client on the other. Floor and builds alternate within every round, because the cost of
# crossing vCPUs on a VM moves from minute to minute; each round gives a ratio to its own floor.
# Prints one line per run, then per build the median p50/p99 over the rounds and the median of the per-round
# p50 ratios to the floor.
#
# With LAYOUT=1 (the default) every round also runs `qbn-floor --layout jqb` (the floor of a libqb-compatible ring:
# two C processes moving each message as two spinning jqb ends do) and `--layout jqb --java-locks` (the same plus
# jqb's API locks), right after the plain floor; the medians then give each build's ratio to that layout floor too.
#
# Usage: benchmarks/spin-ab.sh [ROUNDS=3] [SIZE=64] [BUILD_DIR[@JVM_OPTS]...]   (default build: this checkout)
# A build may carry JVM options for both its server and its client after an '@', e.g. "$PWD@-Djqb.guard.repair=false"
# (options separated by spaces, in one argument): one build measured with and without a switch.
# Knobs: COUNT (200000), CPU_SERVER (0), CPU_CLIENT (1), LAYOUT (1: the layout floors too; 0: the plain floor only),
# WARMUP (round trips before the timed ones in each bench run; empty: bench's default, 20000. Each round starts
# fresh JVMs, so with a short warm-up the timed loop can share its pinned vCPU with the JIT compiling both ends).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/lib.sh"

ROUNDS=${1:-3}
SIZE=${2:-64}
shift 2 2>/dev/null || shift $#
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("$root")
COUNT=${COUNT:-200000}
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
LAYOUT=${LAYOUT:-1}
WARMUP=${WARMUP:-}
floor="$root/native/build/qbn-floor"
[ -x "$floor" ] || { echo "spin-ab: $floor missing: run 'make native'" >&2; exit 2; }

work=$(mktemp -d /tmp/jqb-spin-ab.XXXXXX)
server=""
cleanup() {
    [ -n "$server" ] && stop_pid "$server"
    rm -rf "$work"
}
trap cleanup EXIT
export JQB_LOG_LEVEL=warn

for r in $(seq 1 "$ROUNDS"); do
    line=$("$floor" --size "$SIZE" --count "$COUNT" --server-cpu "$CPU_SERVER" --client-cpu "$CPU_CLIENT" | grep '^size=')
    echo "round=$r build=floor $line" | tee -a "$work/results"
    if [ "$LAYOUT" = 1 ]; then
        for variant in layout layoutlocks; do
            extra=(--layout jqb)
            [ "$variant" = layoutlocks ] && extra+=(--java-locks)
            line=$("$floor" --size "$SIZE" --count "$COUNT" --server-cpu "$CPU_SERVER" --client-cpu "$CPU_CLIENT" \
                "${extra[@]}" | grep '^size=')
            echo "round=$r build=$variant $line" | tee -a "$work/results"
        done
    fi
    i=0
    for spec in "${builds[@]}"; do
        i=$((i + 1))
        b="${spec%%@*}"
        opts=""
        [ "$spec" != "$b" ] && opts="${spec#*@}"
        export JQB_JAVA_OPTS="$opts"
        svc="jqbspinab-$$-$r-$i"
        taskset -c "$CPU_SERVER" "$b/bin/jqb" echo-server --service "$svc" --transport shm --wait spin \
            >"$work/server.log" 2>"$work/server.log.err" </dev/null &
        server=$!
        wait_ready "$work/server.log" "$server" "the spinning jqb server ($b)"
        line=$(taskset -c "$CPU_CLIENT" "$b/bin/jqb" bench --service "$svc" --wait spin --count "$COUNT" \
            --size "$SIZE" ${WARMUP:+--warmup "$WARMUP"} 2>"$work/bench.err" | grep '^size=')
        [ -n "$line" ] || { echo "spin-ab: bench against $b failed:" >&2; cat "$work/bench.err" "$work/server.log.err" >&2; }
        stop_pid "$server"
        server=""
        echo "round=$r build=$i:$(basename "$b")${opts:+@$opts} $line" | tee -a "$work/results"
    done
done

echo "== medians over $ROUNDS rounds, $SIZE B (ratio: median of each round's p50 / that round's floor p50;"
echo "   ratio_layout: the same against that round's layout floor, qbn-floor --layout jqb)"
keys="floor"
[ "$LAYOUT" = 1 ] && keys="floor layout layoutlocks"
for key in $keys $(seq 1 ${#builds[@]}); do
    case "$key" in
        floor|layout|layoutlocks) pat="build=$key "; name=$key ;;
        *) pat="build=$key:"; name="${builds[$((key - 1))]}" ;;
    esac
    p50=$(grep -F "$pat" "$work/results" | while read -r l; do field "$l" p50_ns; done | median)
    p99=$(grep -F "$pat" "$work/results" | while read -r l; do field "$l" p99_ns; done | median)
    ratio=$(for rr in $(seq 1 "$ROUNDS"); do
        f=$(field "$(grep -F "round=$rr build=floor " "$work/results")" p50_ns)
        j=$(field "$(grep -F "round=$rr $pat" "$work/results")" p50_ns)
        [ -n "$f" ] && [ -n "$j" ] && awk -v a="$j" -v b="$f" 'BEGIN { printf "%.2f\n", a / b }'
    done | median)
    ratio_l=""
    if [ "$LAYOUT" = 1 ]; then
        ratio_l=$(for rr in $(seq 1 "$ROUNDS"); do
            f=$(field "$(grep -F "round=$rr build=layout " "$work/results")" p50_ns)
            j=$(field "$(grep -F "round=$rr $pat" "$work/results")" p50_ns)
            [ -n "$f" ] && [ -n "$j" ] && awk -v a="$j" -v b="$f" 'BEGIN { printf "%.2f\n", a / b }'
        done | median)
        ratio_l=" ratio_layout=$ratio_l"
    fi
    echo "$name p50_ns=$p50 p99_ns=$p99 ratio_p50=$ratio$ratio_l"
done

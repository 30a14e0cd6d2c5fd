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
# WARMUP (round trips before the timed ones in each bench run; default 300000, "" for bench's default, 20000. Each
# round starts fresh JVMs: after 20000 the server's C2 compilations still finish 50-200 ms into the timed loop, on the
# pinned vCPU the loop spins on, and the first windows run at 0.4-1.8 µs; see the performance notes, session 9),
# PROBE (0; 1: native/build/qbn-regime runs at SCHED_FIFO during every entry, floor and builds alike, and tags its line
# with the CPUs' regime of that moment, regime=f|n|s|mixed (the VM's line-transfer cost, which moves a spinning
# pair's level by ≈ 3-4x, see the performance notes, "Spin mode: the 1 µs level"); the medians then add each build's
# p50 and p99 ratios over only the rounds in which it and the floor ran in the same regime. Needs root).
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
WARMUP=${WARMUP-300000}
PROBE=${PROBE:-0}
floor="$root/native/build/qbn-floor"
need_native spin-ab "$floor"
regime_bin="$root/native/build/qbn-regime"
if [ "$PROBE" != 0 ]; then
    need_native spin-ab "$regime_bin"
    need_root spin-ab "PROBE=1 needs root (qbn-regime runs at SCHED_FIFO)"
fi

work=$(mktemp -d /tmp/jqb-spin-ab.XXXXXX)
server=""
probe=""
trap cleanup_server_probe EXIT
export JQB_LOG_LEVEL=warn
# probe_start / probe_end LINE: with PROBE=1, the regime probe around one entry. probe_end stops it and leaves
# " regime=X" in $tag (empty without PROBE): the level of at least 80 % of its bursts during that entry's timed round
# trips only (count / msgs_per_s before the moment the entry printed its line, end_ms, stamped by `stamp`), so that a
# JVM's start-up and warm-up do not count.
tag=""
probe_start() {
    [ "$PROBE" = 0 ] && return
    "$regime_bin" --series --period-ms 2 --count 500 --server-cpu "$CPU_SERVER" --client-cpu "$CPU_CLIENT" \
        >"$work/probe.out" &
    probe=$!
}
probe_end() {
    tag=""
    [ -z "$probe" ] && return
    kill -TERM "$probe" 2>/dev/null
    wait "$probe" 2>/dev/null || echo "spin-ab: qbn-regime failed (rc $?; its message is above)" >&2
    probe=""
    tag=" regime=$(regime_of "$1" "$work/probe.out")"
}
# stamp: the result line alone, with its end_ms (lib.sh's stamp_result)
stamp() { stamp_result | grep '^size='; }
# untimed LINE: the line without its end_ms
untimed() { echo "${1% end_ms=*}"; }

for r in $(seq 1 "$ROUNDS"); do
    probe_start
    line=$("$floor" --size "$SIZE" --count "$COUNT" --server-cpu "$CPU_SERVER" --client-cpu "$CPU_CLIENT" | stamp)
    probe_end "$line"
    line=$(untimed "$line")
    echo "round=$r build=floor $line$tag" | tee -a "$work/results"
    if [ "$LAYOUT" = 1 ]; then
        for variant in layout layoutlocks; do
            extra=(--layout jqb)
            [ "$variant" = layoutlocks ] && extra+=(--java-locks)
            probe_start
            line=$("$floor" --size "$SIZE" --count "$COUNT" --server-cpu "$CPU_SERVER" --client-cpu "$CPU_CLIENT" \
                "${extra[@]}" | stamp)
            probe_end "$line"
            line=$(untimed "$line")
            echo "round=$r build=$variant $line$tag" | tee -a "$work/results"
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
        probe_start
        line=$(taskset -c "$CPU_CLIENT" "$b/bin/jqb" bench --service "$svc" --wait spin --count "$COUNT" \
            --size "$SIZE" ${WARMUP:+--warmup "$WARMUP"} 2>"$work/bench.err" | stamp)
        probe_end "$line"
        line=$(untimed "$line")
        [ -n "$line" ] || { echo "spin-ab: bench against $b failed:" >&2; cat "$work/bench.err" "$work/server.log.err" >&2; }
        stop_pid "$server"
        server=""
        echo "round=$r build=$i:$(basename "$b")${opts:+@$opts} $line$tag" | tee -a "$work/results"
    done
done

echo "== medians over $ROUNDS rounds, $SIZE B (ratio_p50, ratio_p99: median of each round's p50 or p99 / that round's"
echo "   floor's; ratio_layout: p50 against that round's layout floor, qbn-floor --layout jqb; *_same (PROBE=1): only"
echo "   the rounds in which the floor and the build ran in the same regime, f, n or s)"
# ratios BASE_PAT PAT KEY [count]: the median over the rounds of PAT's KEY / BASE_PAT's KEY (with SAME=1 only rounds
# whose two lines carry the same regime=f|n|s tag); "count": how many rounds that is
ratios() {
    local rr f j base line
    for rr in $(seq 1 "$ROUNDS"); do
        base=$(grep -F "round=$rr $1" "$work/results")
        line=$(grep -F "round=$rr $2" "$work/results")
        f=$(field "$base" "$3")
        j=$(field "$line" "$3")
        if [ "${SAME:-0}" = 1 ]; then
            case "$(field "$base" regime)" in f|n|s) ;; *) continue ;; esac
            [ "$(field "$base" regime)" = "$(field "$line" regime)" ] || continue
        fi
        [ -n "$f" ] && [ -n "$j" ] && awk -v a="$j" -v b="$f" 'BEGIN { printf "%.2f\n", a / b }'
    done | if [ "${4:-}" = count ]; then wc -l; else median; fi
}
keys="floor"
[ "$LAYOUT" = 1 ] && keys="floor layout layoutlocks"
for key in $keys $(seq 1 ${#builds[@]}); do
    case "$key" in
        floor|layout|layoutlocks) pat="build=$key "; name=$key ;;
        *) pat="build=$key:"; name="${builds[$((key - 1))]}" ;;
    esac
    p50=$(grep -F "$pat" "$work/results" | while read -r l; do field "$l" p50_ns; done | median)
    p99=$(grep -F "$pat" "$work/results" | while read -r l; do field "$l" p99_ns; done | median)
    ratio=$(ratios "build=floor " "$pat" p50_ns)
    ratio99=$(ratios "build=floor " "$pat" p99_ns)
    ratio_l=""
    if [ "$LAYOUT" = 1 ]; then
        ratio_l=" ratio_layout=$(ratios "build=layout " "$pat" p50_ns)"
    fi
    same=""
    if [ "$PROBE" != 0 ]; then
        n=$(SAME=1 ratios "build=floor " "$pat" p50_ns count)
        same=" same_regime_rounds=$n ratio_p50_same=$(SAME=1 ratios "build=floor " "$pat" p50_ns)"
        same="$same ratio_p99_same=$(SAME=1 ratios "build=floor " "$pat" p99_ns)"
    fi
    echo "$name p50_ns=$p50 p99_ns=$p99 ratio_p50=$ratio ratio_p99=$ratio99$ratio_l$same"
done

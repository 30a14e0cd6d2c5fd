#!/usr/bin/env bash
# A/B of libipc echo round trips between builds of jqb (each a checkout with `make` done: bin/jqb, target/), against
# the C wire peer (native/build/libipc-peer of this checkout). In every round, for each layout (pinned: server and
# client on CPU_PINNED; split: server on CPU_SERVER, client on CPU_CLIENT) and size: one C<->C run, then for each
# build in turn jqb client -> C server, C client -> jqb server and jqb <-> jqb. Builds alternate within every round,
# so a change of machine load hits them alike; each run is divided by its round's C<->C p50.
# Prints one line per run, then per build, layout, size and pairing the median p50 and the median of the per-round
# ratios to C<->C; also the SERVER's CPU time per echo (server_cpu_ns: all its threads' run time from
# /proc/PID/task/*/schedstat over the run, divided by WARMUP + COUNT echoes), which machine load disturbs much less
# than a latency does, with its per-round ratio to the C server's in the same round's C<->C run (cpu_ratio).
#
# Usage: benchmarks/libipc-ab.sh [ROUNDS=5] [BUILD_DIR...]   (default build: this checkout)
# Knobs: COUNT (50000), WARMUP (10000), SIZES ("0 64 4096"), LAYOUTS ("pinned split"), CPU_PINNED (0),
#        CPU_SERVER (0), CPU_CLIENT (1).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/lib.sh"

ROUNDS=${1:-5}
shift 1 2>/dev/null || shift $#
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("$root")
COUNT=${COUNT:-50000}
WARMUP=${WARMUP:-10000}
SIZES=${SIZES:-"0 64 4096"}
LAYOUTS=${LAYOUTS:-"pinned split"}
CPU_PINNED=${CPU_PINNED:-0}
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
peer="$root/native/build/libipc-peer"
need_native libipc-ab "$peer"
for b in "${builds[@]}"; do
    [ -x "$b/bin/jqb" ] && [ -f "$b/target/jqb.jar" ] || { echo "libipc-ab: $b: run 'make' there first" >&2; exit 2; }
done

work=$(mktemp -d /tmp/jqb-libipc-ab.XXXXXX)
export IPC_RUNDIR="$work/ipc"
mkdir -p "$IPC_RUNDIR"
export JQB_LOG_LEVEL=warn
spids=()
cleanup() {
    for p in "${spids[@]}"; do stop_pid "$p"; done
    rm -rf "$work"
}
trap cleanup EXIT

# cpu_ns PID: the run time so far of all threads of PID, in ns
cpu_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# run CLIENT(C|build dir) CPU NAME SIZE [SERVER_PID]: one bench; prints its result line (empty on failure), with
# server_cpu_ns= appended when SERVER_PID is given
run() {
    local c=$1 cpu=$2 name=$3 size=$4 spid=${5:-} before="" line
    [ -n "$spid" ] && before=$(cpu_ns "$spid")
    if [ "$c" = C ]; then
        line=$(taskset -c "$cpu" "$peer" bench "$name" --count "$COUNT" --size "$size" --warmup "$WARMUP" \
            2>>"$work/err" | grep '^size=')
    else
        line=$(taskset -c "$cpu" "$c/bin/jqb" libipc-bench "$name" --count "$COUNT" --size "$size" --warmup "$WARMUP" \
            2>>"$work/err" | grep '^size=')
    fi
    [ -n "$line" ] || return 0
    if [ -n "$spid" ]; then
        line="$line server_cpu_ns=$(awk -v a="$before" -v b="$(cpu_ns "$spid")" -v n=$((COUNT + WARMUP)) \
            'BEGIN { printf "%.0f", (b - a) / n }')"
    fi
    echo "$line"
}

results="$work/results"
: >"$results"
for r in $(seq 1 "$ROUNDS"); do
    for layout in $LAYOUTS; do
        if [ "$layout" = pinned ]; then scpu=$CPU_PINNED; ccpu=$CPU_PINNED; else scpu=$CPU_SERVER; ccpu=$CPU_CLIENT; fi
        cname="lab-$$-$r-$layout-c"
        taskset -c "$scpu" "$peer" echo-server "$cname" >"$work/c.log" 2>&1 </dev/null &
        spids=($!)
        wait_ready "$work/c.log" "${spids[0]}" "libipc-peer echo-server"
        i=0
        for b in "${builds[@]}"; do
            i=$((i + 1))
            taskset -c "$scpu" "$b/bin/jqb" libipc-echo-server "lab-$$-$r-$layout-$i" >"$work/j$i.log" 2>&1 </dev/null &
            spids+=($!)
            wait_ready "$work/j$i.log" "$!" "jqb libipc-echo-server ($b)"
            for ws in $SIZES; do # warm the server's JIT at every size before measuring it (a size's first
                run C "$ccpu" "lab-$$-$r-$layout-$i" "$ws" >/dev/null # run would otherwise pay its compilations)
            done
        done
        for size in $SIZES; do
            line=$(run C "$ccpu" "$cname" "$size" "${spids[0]}")
            echo "round=$r $layout size=$size build=C pair=C->C $line" | tee -a "$results"
            i=0
            for b in "${builds[@]}"; do
                i=$((i + 1))
                jname="lab-$$-$r-$layout-$i"
                for pair in "jqb->C:$b:$cname:${spids[0]}" "C->jqb:C:$jname:${spids[$i]}" \
                    "jqb->jqb:$b:$jname:${spids[$i]}"; do
                    p=${pair%%:*}; rest=${pair#*:}; client=${rest%%:*}; rest=${rest#*:}; name=${rest%%:*}
                    line=$(run "$client" "$ccpu" "$name" "$size" "${rest#*:}")
                    echo "round=$r $layout size=$size build=$i pair=$p $line" | tee -a "$results"
                done
            done
        done
        for p in "${spids[@]}"; do stop_pid "$p"; done
        spids=()
    done
done

echo "== medians over $ROUNDS rounds (ratio: median over rounds of p50 / that round's C->C p50)"
i=0
for b in "${builds[@]}"; do
    i=$((i + 1))
    echo "build $i: $b"
done
for layout in $LAYOUTS; do
    for size in $SIZES; do
        for key in C $(seq 1 ${#builds[@]}); do
            for p in C-\>C jqb-\>C C-\>jqb jqb-\>jqb; do
                pat=" $layout size=$size build=$key pair=$p "
                grep -qF "$pat" "$results" || continue
                p50=$(grep -F "$pat" "$results" | while read -r l; do field "$l" p50_ns; done | median)
                ratio=$(for rr in $(seq 1 "$ROUNDS"); do
                    base=$(field "$(grep -F "round=$rr $layout size=$size build=C pair=C->C " "$results")" p50_ns)
                    j=$(field "$(grep -F "round=$rr$pat" "$results")" p50_ns)
                    [ -n "$base" ] && [ -n "$j" ] && awk -v a="$j" -v b="$base" 'BEGIN { printf "%.2f\n", a / b }'
                done | median)
                cpu=$(grep -F "$pat" "$results" | while read -r l; do field "$l" server_cpu_ns; done | median)
                cratio=$(for rr in $(seq 1 "$ROUNDS"); do
                    base=$(field "$(grep -F "round=$rr $layout size=$size build=C pair=C->C " "$results")" \
                        server_cpu_ns)
                    j=$(field "$(grep -F "round=$rr$pat" "$results")" server_cpu_ns)
                    [ -n "$base" ] && [ -n "$j" ] && awk -v a="$j" -v b="$base" 'BEGIN { printf "%.2f\n", a / b }'
                done | median)
                echo "$layout size=$size build=$key pair=$p p50_ns=$p50 ratio=$ratio server_cpu_ns=$cpu cpu_ratio=$cratio"
            done
        done
    done
done

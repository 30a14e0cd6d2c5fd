#!/usr/bin/env bash
# A/B of one point of the scale curve: N concurrent native clients (`qbn-client bench-many`) against the native
# libqb server and against the jqb server of each given build (a checkout with `make` done: bin/jqb, target/),
# the servers alternating within every round (the order rotates each round), because on a shared VM the speed of
# the machine moves from minute to minute. Per run: round trips/s, p50/p99, and the server's CPU time per round
# trip (utime + stime from /proc/PID/stat over the run, divided by the round trips): the server's own cost, which
# says whether the server is what limits the throughput (the clients share one vCPU, the server has the other);
# the server's context switches per round trip (all its threads, /proc/PID/task/*/status), and its RSS growth per
# connection over the run (VmRSS with every connection open, from bench-many --server-pid, minus the idle figure).
# Prints one line per run, then per server the medians and the median of the per-round ratios to native.
#
# Usage: benchmarks/scale-ab.sh [ROUNDS=5] [CLIENTS=100] [TRANSPORT=shm] [BUILD_DIR[@WAIT]...]   (default: this
# checkout); @WAIT runs that server with `--wait WAIT` (e.g. `.@phased:20:0`: the same build, its loop spinning 20 µs
# before it sleeps), so one build can be compared with itself under another wait strategy.
# Knobs: DURATION_MS (2000), WARMUP_MS (500), SIZE (64), MAX (8192), CPU_SERVER (0), CPU_CLIENT (1).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib.sh
. "$root/benchmarks/lib.sh"

ROUNDS=${1:-5}
CLIENTS=${2:-100}
TRANSPORT=${3:-shm}
shift 3 2>/dev/null || shift $#
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("$root")
DURATION_MS=${DURATION_MS:-2000}
WARMUP_MS=${WARMUP_MS:-500}
SIZE=${SIZE:-64}
MAX=${MAX:-8192}
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
need_native_word scale-ab "$NCLI" bench-many
export JQB_LOG_LEVEL=${JQB_LOG_LEVEL:-warn}
case "${JQB_JAVA_OPTS:-}" in
    *forceFilesystemSocketsFile*) ;;
    *) export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-scale-ab" ;;
esac
raise_fd_limit

start_work scale-ab
tck=$(getconf CLK_TCK)

# Servers: index 0 native, 1.. the builds.
names=(native)
svcs=()
spids=()
start_server() { # index command...
    local i=$1 log="$work/server-$1.log"
    shift
    "$@" >"$log" 2>"$log.err" </dev/null &
    pids+=("$!")
    spids[$i]=$!
    wait_ready "$log" "$!" "server ${names[$i]}"
}
svcs[0]="jqbscaleab-$$-0"
start_server 0 taskset -c "$CPU_SERVER" "$NSRV" --service "${svcs[0]}" --transport "$TRANSPORT"
i=0
for entry in "${builds[@]}"; do
    i=$((i + 1))
    b=${entry%@*}
    wait_args=()
    [ "$b" != "$entry" ] && wait_args=(--wait "${entry##*@}")
    b=$(cd "$b" && pwd)
    names[$i]="$i:$(basename "$b")${wait_args[1]:+@${wait_args[1]}}"
    svcs[$i]="jqbscaleab-$$-$i"
    start_server "$i" taskset -c "$CPU_SERVER" "$b/bin/jqb" echo-server --service "${svcs[$i]}" --transport "$TRANSPORT" \
        "${wait_args[@]}"
    # The jqb server's JIT, as scale-curve.sh warms it.
    "$NCLI" bench --service "${svcs[$i]}" --count 20000 --size "$SIZE" --max "$MAX" --warmup 0 >/dev/null 2>&1
    for w in 100 "$CLIENTS"; do
        "$NCLI" bench-many --service "${svcs[$i]}" --clients "$w" --duration-ms 1000 --warmup-ms 0 --size "$SIZE" \
            --max "$MAX" >/dev/null 2>&1
    done
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
# Context switches of every thread of the server (voluntary + involuntary): how often its threads went to sleep.
ctx_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'; }

n=${#names[@]}
echo "== $CLIENTS clients, $TRANSPORT, $SIZE B, ${DURATION_MS} ms per run; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
    for k in $(seq 0 $((n - 1))); do
        s=$(( (k + r) % n ))
        pid=${spids[$s]}
        c0=$(cpu_ticks "$pid")
        x0=$(ctx_switches "$pid")
        rss0=$(proc_kb "$pid" VmRSS)
        line=$(taskset -c "$CPU_CLIENT" "$NCLI" bench-many --service "${svcs[$s]}" --clients "$CLIENTS" \
            --duration-ms "$DURATION_MS" --warmup-ms "$WARMUP_MS" --size "$SIZE" --max "$MAX" --server-pid "$pid" \
            2>"$work/client.err" | grep '^clients=')
        c1=$(cpu_ticks "$pid")
        x1=$(ctx_switches "$pid")
        if [ -z "$line" ]; then
            echo "scale-ab: run against ${names[$s]} failed:" >&2
            tail -3 "$work/client.err" >&2
            continue
        fi
        # Server CPU over the whole client run (warm-up included) per round trip of the whole run, estimated from
        # the measured window's rate.
        cpu_us=$(awk -v a="$c0" -v b="$c1" -v t="$tck" -v r="$(field "$line" rtt_per_s)" \
            -v d="$(( DURATION_MS + WARMUP_MS ))" 'BEGIN { rt = r * d / 1000.0;
            printf "%.2f", (rt > 0 ? (b - a) / t * 1e6 / rt : 0) }')
        # Server context switches per round trip (same estimate), and its RSS growth per connection over the run
        # (VmRSS with every connection open minus the idle figure before).
        cs=$(awk -v a="$x0" -v b="$x1" -v r="$(field "$line" rtt_per_s)" -v d="$(( DURATION_MS + WARMUP_MS ))" \
            'BEGIN { rt = r * d / 1000.0; printf "%.3f", (rt > 0 ? (b - a) / rt : 0) }')
        drss=$(awk -v a="${rss0:-0}" -v b="$(field "$line" server_rss_kb)" -v n="$CLIENTS" \
            'BEGIN { printf "%.1f", (b - a) / n }')
        echo "round=$r server=${names[$s]} rtt_per_s=$(field "$line" rtt_per_s) p50_ns=$(field "$line" p50_ns)" \
            "p99_ns=$(field "$line" p99_ns) server_cpu_us_per_rt=$cpu_us server_cs_per_rt=$cs" \
            "rss_kb_per_conn=$drss" | tee -a "$work/results"
    done
done

echo "== medians over $ROUNDS rounds (ratio: median of each round's figure / that round's native figure)"
for s in $(seq 0 $((n - 1))); do
    pat="server=${names[$s]} "
    out="${names[$s]}"
    for key in rtt_per_s p50_ns p99_ns server_cpu_us_per_rt server_cs_per_rt rss_kb_per_conn; do
        m=$(grep -F "$pat" "$work/results" | while read -r l; do field "$l" "$key"; done | median)
        ratio=$(for rr in $(seq 1 "$ROUNDS"); do
            a=$(field "$(grep -F "round=$rr $pat" "$work/results")" "$key")
            b=$(field "$(grep -F "round=$rr server=native " "$work/results")" "$key")
            [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f\n", a / b }'
        done | median)
        out="$out $key=$m (x$ratio)"
    done
    echo "$out"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# `make bench-compare`: jqb and native libqb 2.0.6 side by side, in one run.
#
# Every pairing {native client, jqb client} x {native server, jqb server} x {SHM, SOCKET}, echo payloads of
# 64 B, 4 KiB and 64 KiB, with both processes on one vCPU (server and client `taskset -c 0`) and split across two
# (server `-c 0`, client `-c 1`); then the pipelined mode and connection set-up (connect + handshake + close).
# Then jqb's spin mode against the hardware floor (native/build/qbn-floor: two processes spinning on shared
# memory), floor and jqb rounds alternating; the cold start (cold-start.sh), the scale curve (scale-curve.sh: 1..1000
# concurrent clients, with a chart) and the RSS per SOCKET connection of a long-running server (rss-rounds.sh).
# Prints the tables and writes them, with the machine and the exact
# commands, to docs/PERFORMANCE.md (and the chart to docs/scale-curve.svg).
#
# Knobs (environment): COUNT (blocking round trips per cell), WARMUP, PIPE_COUNT, PIPE_WARMUP, PIPE_ROUNDS (the
# pipelined cells run this many times, the four pairings of a cell back to back, order reversed every other round),
# CONNECT_COUNT, CONNECT_WARMUP, CONNECT_ROUNDS (the same for the set-up cells), OUT (the Markdown file), CPU_SERVER / CPU_CLIENT_SPLIT (vCPU numbers), CELL_TIMEOUT (seconds);
# ROUNDS (spin-vs-floor rounds), SPIN_COUNT / SPIN_WARMUP (round trips per spin or floor run at 64 B and 4 KiB; a
# tenth / a fifth at 64 KiB), PHASED (the wait strategy of the jqb server for the native-client row), SPIN_PROBE=1
# (root: native/build/qbn-regime during every floor and jqb spin run, each tagged with the vCPUs' regime f, n or s
# of its timed round trips, and the spin table adds the ratios over the rounds where floor and jqb shared one; the
# regime moves a spinning pair's figures 3-4x within seconds: performance notes, "Spin mode: the 1 µs level");
# SKIP_BLOCKING=1 (blocking, pipelined and set-up phases), SKIP_RTT=1, SKIP_PIPE=1, SKIP_CONNECT=1 (one of them),
# SKIP_SPIN=1, SKIP_SCALE=1 (and the RSS rounds), SKIP_RSS=1 (rss-rounds.sh alone), SKIP_COLD=1, SKIP_GC=1 leave a
# part out (for trying the script: with OUT elsewhere);
# scale-curve.sh's and cold-start.sh's own knobs (SCALE_*, COLD_*) pass through. Last, the JMH `-prof gc` figures
# of the hot paths (jmh-gc.sh, ~3 minutes; needs the JMH class path: `make bench-compare` builds it).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib.sh
. "$root/benchmarks/lib.sh"

COUNT=${COUNT:-20000}
WARMUP=${WARMUP:-20000}
PIPE_COUNT=${PIPE_COUNT:-200000}
PIPE_WARMUP=${PIPE_WARMUP:-20000}
PIPE_ROUNDS=${PIPE_ROUNDS:-3}
CONNECT_COUNT=${CONNECT_COUNT:-2000}
CONNECT_WARMUP=${CONNECT_WARMUP:-10000}
CONNECT_ROUNDS=${CONNECT_ROUNDS:-3}
OUT=${OUT:-docs/PERFORMANCE.md}
case "$OUT" in /*) out_path=$OUT ;; *) out_path="$root/$OUT" ;; esac
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT_SPLIT=${CPU_CLIENT_SPLIT:-1}
SIZES=(64 4096 65536)
PIPE_SIZES=(64 4096)
TRANSPORTS=(shm socket)
CPUSETS=(pinned split)
IMPLS=(native jqb)
# SOCKET: a 64 KiB echo needs 65536 + 24 (response header) + 16 bytes of buffer; both clients ask for the same.
MAX=65576
CELL_TIMEOUT=${CELL_TIMEOUT:-60}
ROUNDS=${ROUNDS:-5}
SPIN_COUNT=${SPIN_COUNT:-100000}
SPIN_WARMUP=${SPIN_WARMUP:-500000}
read -r -a SPIN_SIZES <<<"${SPIN_SIZES:-64 4096 65536}"
PHASED=${PHASED:-phased:1000:0}
SKIP_BLOCKING=${SKIP_BLOCKING:-0}
SKIP_RTT=${SKIP_RTT:-0}
SKIP_PIPE=${SKIP_PIPE:-0}
SKIP_CONNECT=${SKIP_CONNECT:-0}
SKIP_SPIN=${SKIP_SPIN:-0}
SKIP_SCALE=${SKIP_SCALE:-0}
SKIP_COLD=${SKIP_COLD:-0}
SKIP_GC=${SKIP_GC:-0}
SKIP_RSS=${SKIP_RSS:-0}
SPIN_PROBE=${SPIN_PROBE:-0}
TAB=$'\t'
REGIME="$root/native/build/qbn-regime"

JQB="$root/bin/jqb"
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
FLOOR="$root/native/build/qbn-floor"
export JQB_LOG_LEVEL=warn
# Abstract sockets, whatever happens to /etc/libqb/force-filesystem-sockets during the run: tests on this machine
# create it for a moment, and jqb (unlike libqb, which looks once per process) looks at every connect.
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-bench-compare"

for f in "$JQB" "$NSRV" "$NCLI" "$FLOOR" "$root/target/jqb.jar"; do
    [ -e "$f" ] || { echo "bench-compare: $f is missing; run 'make' first" >&2; exit 2; }
done
command -v taskset >/dev/null || { echo "bench-compare: taskset (util-linux) is required" >&2; exit 2; }
if [ "$SPIN_PROBE" = 1 ]; then
    [ -x "$REGIME" ] || { echo "bench-compare: SPIN_PROBE=1 needs $REGIME: run 'make native'" >&2; exit 2; }
    [ "$(id -u)" = 0 ] || { echo "bench-compare: SPIN_PROBE=1 needs root (qbn-regime runs at SCHED_FIFO)" >&2; exit 2; }
fi
if [ "$(nproc)" -lt 2 ]; then
    echo "bench-compare: needs 2 vCPUs for the split configuration; only the pinned one will be meaningful" >&2
fi

work=$(mktemp -d /tmp/jqb-bench-compare.XXXXXX)
results="$work/results.tsv"   # mode transport cpus size client server p50 p99 msgs MBs [p50x p99x msgsx: rounds]
cell_rounds="$work/cell-rounds.tsv" # mode round transport cpus size client server p50 p99 msgs MBs
cell_round=0                  # the round of a pipe/connect run (0: a single-run mode)
rounds="$work/rounds.tsv"     # round size kind(floor|floor8|floorlq|spin|phased) p50 p99 msgs
commands="$work/commands.txt"
: >"$results"
: >"$cell_rounds"
: >"$rounds"
: >"$commands"
echo "export JQB_LOG_LEVEL=$JQB_LOG_LEVEL JQB_JAVA_OPTS='$JQB_JAVA_OPTS'" >>"$commands"
declare -A SERVER_PID SERVICE
server_pids=()
probe_pid=""                   # the running qbn-regime (SPIN_PROBE=1), killed by cleanup

# ---------------------------------------------------------------------------------------------- servers

stop_servers() {
    local p
    for p in "${server_pids[@]}"; do
        kill -CONT "$p" 2>/dev/null # the spin server is kept stopped (SIGSTOP) between its rounds
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${server_pids[@]}"; do
        reap_pid "$p"
    done
}

# Files a server (or its clients) left in /dev/shm: libqb names them qb-<server pid>-...
leftovers() {
    local p
    for p in "${server_pids[@]}"; do
        ls /dev/shm 2>/dev/null | grep "^qb-$p-" || true
    done
}

cleanup() {
    local rc=$?
    if [ -n "$probe_pid" ]; then
        kill -TERM "$probe_pid" 2>/dev/null
        reap_pid "$probe_pid"
        probe_pid=""
    fi
    stop_servers
    local left
    left=$(leftovers)
    if [ -n "$left" ]; then
        echo "bench-compare: removing leftovers in /dev/shm: $left" >&2
        for d in $left; do rm -rf "/dev/shm/$d"; done
    fi
    server_pids=()
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM


start_server() { # impl transport [--wait STRATEGY]; the key is impl-transport[-spin|-phased]
    local impl=$1 t=$2
    shift 2
    local sfx=""
    [ "${1:-}" = --wait ] && sfx="-${2%%:*}"
    local svc="jqbcmp-$$-$impl-$t$sfx" log="$work/server-$impl-$t$sfx.log" cmd
    if [ "$impl" = native ]; then
        cmd=(taskset -c "$CPU_SERVER" "$NSRV" --service "$svc" --transport "$t" "$@")
    else
        cmd=(taskset -c "$CPU_SERVER" "$JQB" echo-server --service "$svc" --transport "$t" "$@")
    fi
    echo "${cmd[*]} &" >>"$commands"
    "${cmd[@]}" >"$log" 2>"$log.err" </dev/null &
    local pid=$!
    server_pids+=("$pid")
    wait_ready "$log" "$pid" "$impl server ($t)"
    SERVER_PID[$impl-$t$sfx]=$pid
    SERVICE[$impl-$t$sfx]=$svc
}

# ---------------------------------------------------------------------------------------------- clients

client_cmd() { # impl -> the client executable
    if [ "$1" = native ]; then echo "$NCLI"; else echo "$JQB"; fi
}

client_cpu() { # cpus
    if [ "$1" = pinned ]; then echo "$CPU_SERVER"; else echo "$CPU_CLIENT_SPLIT"; fi
}

# run_cell mode transport cpus size client server -- command...
run_cell() {
    local mode=$1 t=$2 cpus=$3 size=$4 cli=$5 srv=$6
    shift 7
    local line out
    [ "$cell_round" -le 1 ] && echo "$*" >>"$commands"
    out=$(timeout "$CELL_TIMEOUT" "$@" 2>"$work/client.err")
    local rc=$?
    if [ "$mode" = connect ]; then
        line=$(echo "$out" | grep '^connect ' | tail -1)
    else
        line=$(echo "$out" | grep '^size=' | tail -1)
    fi
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        echo "bench-compare: FAILED (rc $rc): $*" >&2
        sed 's/^/    /' "$work/client.err" | grep -v "chronicle\|Chronicle\|WARNING: Make sure" | tail -5 >&2
        if [ "$cell_round" -gt 0 ]; then
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t-\t-\t-\t-\n' "$mode" "$cell_round" "$t" "$cpus" "$size" "$cli" \
                "$srv" >>"$cell_rounds"
        else
            printf '%s\t%s\t%s\t%s\t%s\t%s\t-\t-\t-\t-\n' "$mode" "$t" "$cpus" "$size" "$cli" "$srv" >>"$results"
        fi
        return
    fi
    local p50 p99 msgs mbs
    p50=$(field "$line" p50_ns)
    p99=$(field "$line" p99_ns)
    msgs=$(field "$line" msgs_per_s)
    mbs=$(field "$line" MB_per_s)
    if [ "$cell_round" -gt 0 ]; then
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$cell_round" "$t" "$cpus" "$size" "$cli" \
            "$srv" "${p50:--}" "${p99:--}" "${msgs:--}" "${mbs:--}" >>"$cell_rounds"
        mode="$mode#$cell_round"
    else
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$t" "$cpus" "$size" "$cli" "$srv" \
            "${p50:--}" "${p99:--}" "${msgs:--}" "${mbs:--}" >>"$results"
    fi
    printf '  %-7s %-6s %-6s %6s  %-6s -> %-6s  %s\n' "$mode" "$t" "$cpus" "$size" "$cli" "$srv" "$line"
}

# summarise_rounds mode: one results line per cell of a phase run in rounds (run_cell with cell_round > 0): the
# medians over the rounds of p50, p99, msgs/s and MB/s, and the medians of the per-round ratios to the same round's
# native -> native (p50 ×, p99 ×, msgs/s ×), which is what a VM whose speed moves between rounds lets one read.
summarise_rounds() {
    local mode=$1
    awk -F'\t' -v OFS='\t' -v mode="$mode" '
      function med(list,   a, m, i, j, t) { m = split(list, a, " "); if (m == 0) return "-"
        for (i = 2; i <= m; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
      function add(k, c, v) { if (v != "-" && v != "") vals[k, c] = vals[k, c] " " v }
      $1 == mode { k = $3 SUBSEP $4 SUBSEP $5 SUBSEP $6 SUBSEP $7
        if (!(k in seen)) { seen[k] = 1; order[++n] = k }
        for (c = 8; c <= 11; c++) { add(k, c, $c); v[k, $2, c] = $c } rounds[$2] = 1 }
      END {
        for (i = 1; i <= n; i++) { k = order[i]; split(k, p, SUBSEP)
          b = p[1] SUBSEP p[2] SUBSEP p[3] SUBSEP "native" SUBSEP "native"
          for (c = 8; c <= 10; c++) { r = ""
            for (q in rounds) { x = v[k, q, c]; y = v[b, q, c]
              if (x != "-" && x != "" && y != "-" && y != "" && y > 0) r = r " " sprintf("%.4f", x / y) }
            ratio[c] = med(r) }
          mb = med(vals[k, 11])
          print mode, p[1], p[2], p[3], p[4], p[5], med(vals[k, 8]), med(vals[k, 9]), med(vals[k, 10]),
            (mb == "-" ? "-" : sprintf("%.2f", mb)), ratio[8], ratio[9], ratio[10] } }' "$cell_rounds" >>"$results"
}

# ---------------------------------------------------------------------------------------------- the run

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)

echo "bench-compare: starting servers (all on vCPU $CPU_SERVER)"
if [ "$SKIP_BLOCKING" != 1 ]; then
    for impl in "${IMPLS[@]}"; do
        for t in "${TRANSPORTS[@]}"; do
            start_server "$impl" "$t"
        done
    done
fi

phase() { echo "bench-compare: [$(( $(date +%s) - t0 )) s] $*"; }
if [ "$SKIP_BLOCKING" != 1 ]; then
# The jqb servers' JIT: serve a few round trips of each size before anything is measured.
echo "bench-compare: warming up the jqb servers"
for t in "${TRANSPORTS[@]}"; do
    for size in "${SIZES[@]}"; do
        n=10000
        [ "$size" -ge 65536 ] && n=3000
        echo "$NCLI bench --service ${SERVICE[jqb-$t]} --count $n --size $size --max $MAX --warmup 0  # warm-up" \
            >>"$commands"
        timeout "$CELL_TIMEOUT" "$NCLI" bench --service "${SERVICE[jqb-$t]}" --count "$n" --size "$size" \
            --max "$MAX" --warmup 0 >/dev/null 2>&1 || echo "bench-compare: warm-up of jqb-$t failed" >&2
    done
    # The set-up path is long (handshake, files, teardown): C2 settles after ~6000 connects (-XX:+PrintCompilation),
    # and a compiler thread sharing the pinned CPU would otherwise be measured as set-up time.
    echo "$NCLI bench-connect --service ${SERVICE[jqb-$t]} --count 6000 --max $MAX  # warm-up" >>"$commands"
    timeout "$CELL_TIMEOUT" "$NCLI" bench-connect --service "${SERVICE[jqb-$t]}" --count 6000 --max "$MAX" \
        >/dev/null 2>&1 || echo "bench-compare: connect warm-up of jqb-$t failed" >&2
done

pairings=("native native" "native jqb" "jqb native" "jqb jqb") # server client, as run in rounds
if [ "$SKIP_RTT" != 1 ]; then
phase "blocking round trips ($COUNT per cell after $WARMUP warm-up)"
for t in "${TRANSPORTS[@]}"; do
    for cpus in "${CPUSETS[@]}"; do
        ccpu=$(client_cpu "$cpus")
        for size in "${SIZES[@]}"; do
            for srv in "${IMPLS[@]}"; do
                for cli in "${IMPLS[@]}"; do
                    run_cell rtt "$t" "$cpus" "$size" "$cli" "$srv" -- taskset -c "$ccpu" "$(client_cmd "$cli")" \
                        bench --service "${SERVICE[$srv-$t]}" --count "$COUNT" --size "$size" --max "$MAX" \
                        --warmup "$WARMUP"
                done
            done
        done
    done
done
fi # SKIP_RTT

# Each mode warmed with itself: the jqb servers' pipelined path (batches of requests per doorbell, a response
# ring that fills) is other code than the blocking one; both clients also warm up pipelined in-process.
if [ "$SKIP_PIPE" != 1 ]; then
echo "bench-compare: warming up the jqb servers' pipelined path"
for t in "${TRANSPORTS[@]}"; do
    for size in "${PIPE_SIZES[@]}"; do
        echo "$NCLI bench --service ${SERVICE[jqb-$t]} --count $PIPE_COUNT --size $size --max $MAX --warmup 0 --pipeline  # warm-up" \
            >>"$commands"
        timeout "$CELL_TIMEOUT" "$NCLI" bench --service "${SERVICE[jqb-$t]}" --count "$PIPE_COUNT" --size "$size" \
            --max "$MAX" --warmup 0 --pipeline >/dev/null 2>&1 || echo "bench-compare: pipelined warm-up of jqb-$t failed" >&2
    done
done
# One run of 40,000 requests (~0.1 s for a fast cell) measured mostly this VM's minute-to-minute noise: every
# cell now runs PIPE_ROUNDS times, the four pairings of a cell back to back (reversed every other round), and
# each pairing's × is the median of its per-round ratios to the same round's native -> native.
phase "pipelined ($PIPE_ROUNDS rounds of $PIPE_COUNT requests per cell, window = one response ring - 1)"
pipe_t0=$(date +%s)
for cell_round in $(seq 1 "$PIPE_ROUNDS"); do
    order=("${pairings[@]}")
    if [ $((cell_round % 2)) -eq 0 ]; then order=("${pairings[3]}" "${pairings[2]}" "${pairings[1]}" "${pairings[0]}"); fi
    for t in "${TRANSPORTS[@]}"; do
        for cpus in "${CPUSETS[@]}"; do
            ccpu=$(client_cpu "$cpus")
            for size in "${PIPE_SIZES[@]}"; do
                for pr in "${order[@]}"; do
                    srv=${pr% *}
                    cli=${pr#* }
                    run_cell pipe "$t" "$cpus" "$size" "$cli" "$srv" -- taskset -c "$ccpu" "$(client_cmd "$cli")" \
                        bench --service "${SERVICE[$srv-$t]}" --count "$PIPE_COUNT" --size "$size" --max "$MAX" \
                        --warmup "$PIPE_WARMUP" --pipeline
                done
            done
        done
    done
done
cell_round=0
pipe_seconds=$(( $(date +%s) - pipe_t0 ))
phase "pipelined: $PIPE_ROUNDS rounds took $pipe_seconds s"
summarise_rounds pipe
fi # SKIP_PIPE

if [ "$SKIP_CONNECT" != 1 ]; then
# Set-up cells in rounds as the pipelined ones: the four pairings of a cell back to back, reversed every other round.
phase "connection set-up ($CONNECT_ROUNDS rounds of $CONNECT_COUNT connect+handshake+close per cell after $CONNECT_WARMUP)"
connect_t0=$(date +%s)
for cell_round in $(seq 1 "$CONNECT_ROUNDS"); do
    order=("${pairings[@]}")
    if [ $((cell_round % 2)) -eq 0 ]; then order=("${pairings[3]}" "${pairings[2]}" "${pairings[1]}" "${pairings[0]}"); fi
    for t in "${TRANSPORTS[@]}"; do
        for cpus in "${CPUSETS[@]}"; do
            ccpu=$(client_cpu "$cpus")
            for pr in "${order[@]}"; do
                srv=${pr% *}
                cli=${pr#* }
                run_cell connect "$t" "$cpus" 0 "$cli" "$srv" -- taskset -c "$ccpu" "$(client_cmd "$cli")" \
                    bench-connect --service "${SERVICE[$srv-$t]}" --count "$CONNECT_COUNT" --max "$MAX" \
                    --warmup "$CONNECT_WARMUP"
            done
        done
    done
done
cell_round=0
connect_seconds=$(( $(date +%s) - connect_t0 ))
phase "connection set-up: $CONNECT_ROUNDS rounds took $connect_seconds s"
summarise_rounds connect
fi # SKIP_CONNECT
fi # SKIP_BLOCKING

# ---------------------------------------------------------------------------------------------- spin vs floor
# jqb's spin mode (server `echo-server --wait spin`, client `bench --wait spin`, SHM) against the hardware floor
# (qbn-floor: two processes spinning on shared memory, one copy each way), server side on CPU_SERVER, client side
# on CPU_CLIENT_SPLIT. Not pinned to one vCPU: two busy-spinning processes on one vCPU only progress at scheduler
# time slices. The cost of crossing this VM's vCPUs moves from minute to minute, so floor and jqb runs alternate,
# size by size, within each round (order reversed every other round), and each round gives its own ratio.
# The spinning server never sleeps, even with no client: it is kept stopped (SIGSTOP) except during its own runs.
# Also per round: a native (blocking) client against a jqb server whose loop spins while busy ($PHASED).
bench_has_wait() { # the usage block of `bench` (its line and the indented ones after it) mentions --wait
    "$JQB" bench --help 2>&1 | awk '/^  [a-z]/ { b = /^  bench / } b && /--wait/ { f = 1 } END { exit !f }'
}
spin_counts() { # size -> "count warmup"
    if [ "$1" -ge 65536 ]; then echo "$((SPIN_COUNT / 5)) $((SPIN_WARMUP / 10))"; else echo "$SPIN_COUNT $SPIN_WARMUP"; fi
}
# run_round round size kind -- command...: one measured run into rounds.tsv
run_round() {
    local round=$1 size=$2 kind=$3 out line rc prc regime=""
    shift 4
    [ "$round" -le 1 ] && echo "$*" >>"$commands"
    if [ "$SPIN_PROBE" = 1 ] && [ "$round" -ge 1 ] && [ "$kind" != phased ]; then
        "$REGIME" --series --period-ms 2 --count 500 --server-cpu "$CPU_SERVER" --client-cpu "$CPU_CLIENT_SPLIT" \
            >"$work/probe.out" 2>"$work/probe.err" &
        probe_pid=$!
        out=$(timeout "$CELL_TIMEOUT" "$@" 2>"$work/client.err" | stamp_result)
        rc=$?
        kill -TERM "$probe_pid" 2>/dev/null
        wait "$probe_pid" 2>/dev/null
        prc=$?
        probe_pid=""
        if [ "$prc" -ne 0 ]; then
            echo "bench-compare: qbn-regime failed (rc $prc): $(tail -2 "$work/probe.err" | tr '\n' ' ')" >&2
        fi
        line=$(echo "$out" | grep '^size=' | tail -1)
        regime=$(regime_of "$line" "$work/probe.out")
        line=${line% end_ms=*}
    else
        out=$(timeout "$CELL_TIMEOUT" "$@" 2>"$work/client.err")
        rc=$?
        line=$(echo "$out" | grep '^size=' | tail -1)
    fi
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        echo "bench-compare: FAILED (rc $rc): $*" >&2
        grep -v "chronicle\|Chronicle\|WARNING: Make sure" "$work/client.err" | tail -5 | sed 's/^/    /' >&2
        [ "$round" -ge 1 ] && printf '%s\t%s\t%s\t-\t-\t-\n' "$round" "$size" "$kind" >>"$rounds"
        return
    fi
    [ "$round" -ge 1 ] && printf '%s\t%s\t%s\t%s\t%s\t%s%s\n' "$round" "$size" "$kind" "$(field "$line" p50_ns)" \
        "$(field "$line" p99_ns)" "$(field "$line" msgs_per_s)" "${regime:+$TAB$regime}" >>"$rounds"
    printf '  round %-2s %-6s %6s  %s%s\n' "$round" "$kind" "$size" "$line" "${regime:+ regime=$regime}"
}
floor_run() { # round size
    local c w
    read -r c w <<<"$(spin_counts "$2")"
    run_round "$1" "$2" floor -- "$FLOOR" --size "$2" --count "$c" --warmup "$w" --server-cpu "$CPU_SERVER" \
        --client-cpu "$CPU_CLIENT_SPLIT"
    # The same with the payload 8 bytes past a line boundary, where a libqb chunk's payload usually starts.
    run_round "$1" "$2" floor8 -- "$FLOOR" --size "$2" --count "$c" --warmup "$w" --server-cpu "$CPU_SERVER" \
        --client-cpu "$CPU_CLIENT_SPLIT" --offset 8
    # The floor of a libqb-compatible ring: two C processes moving each message as two spinning jqb ends do.
    run_round "$1" "$2" floorlq -- "$FLOOR" --size "$2" --count "$c" --warmup "$w" --server-cpu "$CPU_SERVER" \
        --client-cpu "$CPU_CLIENT_SPLIT" --layout jqb
}
spin_run() { # round size
    local c w pid=${SERVER_PID[jqb-shm-spin]}
    read -r c w <<<"$(spin_counts "$2")"
    kill -CONT "$pid"
    run_round "$1" "$2" spin -- taskset -c "$CPU_CLIENT_SPLIT" "$JQB" bench --service "${SERVICE[jqb-shm-spin]}" \
        --count "$c" --size "$2" --max "$MAX" --warmup "$w" --wait spin
    kill -STOP "$pid"
}
phased_run() { # round size
    run_round "$1" "$2" phased -- taskset -c "$CPU_CLIENT_SPLIT" "$NCLI" bench --service "${SERVICE[jqb-shm-phased]}" \
        --count "$COUNT" --size "$2" --max "$MAX" --warmup "$WARMUP"
}
if [ "$SKIP_SPIN" != 1 ] && bench_has_wait; then
    phase "spin mode against the hardware floor ($ROUNDS rounds, floor and jqb alternating)"
    start_server jqb shm --wait spin
    kill -STOP "${SERVER_PID[jqb-shm-spin]}"
    start_server jqb shm --wait "$PHASED"
    # Round 0 (not recorded): every server and client path warmed with itself.
    for size in "${SPIN_SIZES[@]}"; do
        spin_run 0 "$size"
        phased_run 0 "$size"
    done
    for round in $(seq 1 "$ROUNDS"); do
        for size in "${SPIN_SIZES[@]}"; do
            if [ $((round % 2)) -eq 1 ]; then
                floor_run "$round" "$size"; spin_run "$round" "$size"; phased_run "$round" "$size"
            else
                phased_run "$round" "$size"; spin_run "$round" "$size"; floor_run "$round" "$size"
            fi
        done
    done
elif [ "$SKIP_SPIN" != 1 ]; then
    echo "bench-compare: bin/jqb bench has no --wait; spin rounds skipped" >&2
fi

echo "bench-compare: stopping servers"
stop_servers
left=$(leftovers)
if [ -z "$left" ]; then
    shm_check="nothing left in /dev/shm by the servers or their clients"
else
    shm_check="LEFT IN /dev/shm: $left"
fi
server_pids_text=${server_pids[*]}

# The cold start and the scale curve: their own scripts (also `make bench-cold`, `make bench-scale`), with their own
# servers; their Markdown sections are included below and their commands appended to the list. The cold start runs
# first: the scale curve's 1,000 client threads and the RSS rounds' connection storms leave the load average in the
# hundreds for minutes, and a cold client measures everything else that runs on its CPU.
scale_md="$work/scale.md"
cold_md="$work/cold.md"
if [ "$SKIP_COLD" != 1 ]; then
    phase "cold start (benchmarks/cold-start.sh)"
    echo "# benchmarks/cold-start.sh" >>"$commands"
    CPU_SERVER=$CPU_SERVER CPU_CLIENT=$CPU_CLIENT_SPLIT SECTION_OUT="$cold_md" COMMANDS="$commands" OUT="$OUT" \
        bash "$root/benchmarks/cold-start.sh" >"$work/cold.log" 2>&1 || echo "bench-compare: cold-start.sh failed" >&2
    grep '^  cold' "$work/cold.log"
fi
if [ "$SKIP_SCALE" != 1 ]; then
    phase "scale curve (benchmarks/scale-curve.sh)"
    echo "# benchmarks/scale-curve.sh" >>"$commands"
    CPU_SERVER=$CPU_SERVER CPU_CLIENT=$CPU_CLIENT_SPLIT SECTION_OUT="$scale_md" COMMANDS="$commands" OUT="$OUT" \
        bash "$root/benchmarks/scale-curve.sh" >"$work/scale.log" 2>&1 || echo "bench-compare: scale-curve.sh failed" >&2
    grep '^  scale' "$work/scale.log"
fi
if [ "$SKIP_SCALE" != 1 ] && [ "$SKIP_RSS" != 1 ]; then
    phase "RSS per SOCKET connection, round after round (benchmarks/rss-rounds.sh)"
    rss_md="$work/rss.md"
    CPU_SERVER=$CPU_SERVER CPU_CLIENT=$CPU_CLIENT_SPLIT SECTION_OUT="$rss_md" COMMANDS="$commands" \
        bash "$root/benchmarks/rss-rounds.sh" >"$work/rss.log" 2>&1 || echo "bench-compare: rss-rounds.sh failed" >&2
    grep '^  rss' "$work/rss.log"
    [ -s "$rss_md" ] && [ -s "$scale_md" ] && { echo; cat "$rss_md"; } >>"$scale_md"
fi
gc_md="$work/gc.md"
if [ "$SKIP_GC" != 1 ]; then
    phase "allocation on the hot paths, JMH -prof gc (benchmarks/jmh-gc.sh)"
    echo "# benchmarks/jmh-gc.sh (its commands are in its section)" >>"$commands"
    SECTION_OUT="$gc_md" bash "$root/benchmarks/jmh-gc.sh" >"$work/gc.log" 2>&1 \
        || { echo "bench-compare: jmh-gc.sh failed:" >&2; tail -20 "$work/gc.log" >&2; rm -f "$gc_md"; }
fi
[ -s "$scale_md" ] || echo "(not measured in this run: \`make bench-scale\` fills this section)" >"$scale_md"
[ -s "$cold_md" ] || echo "(not measured in this run: \`make bench-cold\` fills this section)" >"$cold_md"
# the stream layer's section (make bench-stream, benchmarks/stream-compare.sh) is carried over as it is
stream_md="$work/stream.md"
awk '/^<!-- stream-compare:begin -->/ { f = 1; next } /^<!-- stream-compare:end -->/ { f = 0 } f' "$root/$OUT" \
    >"$stream_md" 2>/dev/null
[ -s "$stream_md" ] || echo "(not measured yet: \`make bench-stream\` fills this section)" >"$stream_md"
elapsed=$(( $(date +%s) - t0 ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------- report

# Tables from the TSV: one row per pairing, each figure with its ratio to native<->native in the same
# configuration (same mode, transport, CPUs and size).
tables() {
    awk -F'\t' '
    function us(ns) { return ns == "-" ? "-" : sprintf("%.1f", ns / 1000.0) }
    function ratio(x, y) { return (x == "-" || y == "-" || y == 0) ? "-" : sprintf("%.2f", x / y) }
    function num(x) { return x == "-" ? "-" : sprintf("%d", x + 0.5) }
    function x2(x) { return (x == "" || x == "-") ? "-" : sprintf("%.2f", x) }
    function pair(c, s) { return c " → " s }
    { n++; for (i = 1; i <= NF; i++) f[n, i] = $i
      if ($5 == "native" && $6 == "native") base[$1 SUBSEP $2 SUBSEP $3 SUBSEP $4] = n }
    function b(r, col,   k) { k = base[f[r,1] SUBSEP f[r,2] SUBSEP f[r,3] SUBSEP f[r,4]]; return k ? f[k, col] : "-" }
    END {
      print "### Summary: p50 RTT, 64 B echo, ratio to native ↔ native (lower is better)"
      print ""
      print "| transport | CPUs | native → native | jqb client → native server | native client → jqb server | jqb → jqb |"
      print "|---|---|---|---|---|---|"
      for (r = 1; r <= n; r++) if (f[r,1] == "rtt" && f[r,4] == 64 && f[r,5] == "native" && f[r,6] == "native") {
        line = "| " toupper(f[r,2]) " | " f[r,3] " | " us(f[r,7]) " µs"
        split("jqb native|native jqb|jqb jqb", want, "|")
        for (w = 1; w <= 3; w++) { split(want[w], cs, " "); v = "-"
          for (q = 1; q <= n; q++) if (f[q,1] == "rtt" && f[q,2] == f[r,2] && f[q,3] == f[r,3] && f[q,4] == 64 &&
              f[q,5] == cs[1] && f[q,6] == cs[2]) v = ratio(f[q,7], f[r,7]) "× (" us(f[q,7]) " µs)"
          line = line " | " v }
        print line " |"
      }
      print ""
      print "### Blocking echo round trips"
      print ""
      print "| transport | CPUs | size | client → server | p50 µs | p99 µs | msgs/s | MB/s | p50 × | p99 × | msgs/s × |"
      print "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
      for (r = 1; r <= n; r++) if (f[r,1] == "rtt")
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", toupper(f[r,2]), f[r,3], f[r,4],
          pair(f[r,5], f[r,6]), us(f[r,7]), us(f[r,8]), num(f[r,9]), f[r,10], ratio(f[r,7], b(r,7)),
          ratio(f[r,8], b(r,8)), ratio(f[r,9], b(r,9))
      print ""
      print "### Pipelined (requests without waiting for each response)"
      print ""
      print "| transport | CPUs | size | client → server | msgs/s | MB/s | msgs/s × |"
      print "|---|---|---:|---|---:|---:|---:|"
      for (r = 1; r <= n; r++) if (f[r,1] == "pipe")
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", toupper(f[r,2]), f[r,3], f[r,4], pair(f[r,5], f[r,6]),
          num(f[r,9]), f[r,10], x2(f[r,13])
      print ""
      print "### Connection set-up (connect + handshake + close)"
      print ""
      print "| transport | CPUs | client → server | p50 µs | p99 µs | p50 × | p99 × |"
      print "|---|---|---|---:|---:|---:|---:|"
      for (r = 1; r <= n; r++) if (f[r,1] == "connect")
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", toupper(f[r,2]), f[r,3], pair(f[r,5], f[r,6]),
          us(f[r,7]), us(f[r,8]), x2(f[r,11]), x2(f[r,12])
    }' "$results"
}

# Spin vs floor: per size the medians over the rounds of each side's p50/p99 and the median of the per-round
# ratios (jqb spin / floor in the same round); then every round.
floor_tables() {
    [ -s "$rounds" ] || return 0
    local size k c med
    : >"$work/spin.dat"
    echo "### Spin mode against the hardware floor (SHM, server side vCPU $CPU_SERVER, client side vCPU $CPU_CLIENT_SPLIT)"
    echo
    echo "*floor*: \`native/build/qbn-floor\`, two processes spinning on a shared mapping, one \`memcpy\` of the payload"
    echo "each way ([native/qbn_floor.c](../native/qbn_floor.c)); *jqb spin*: \`bin/jqb echo-server --wait spin\` and"
    echo "\`bin/jqb bench --wait spin\`; *native → jqb ($PHASED)*: \`qbn-client bench\` (blocking libqb client) against"
    echo "a jqb server whose loop spins while busy. $ROUNDS rounds after an unrecorded warm-up round; in each round"
    echo "every size runs floor, jqb spin and the native client back to back (reversed every other round). Figures:"
    echo "median over the rounds; × floor: median of the per-round ratios. Counts per run: $SPIN_COUNT round trips after"
    echo "$SPIN_WARMUP warm-up at 64 B and 4 KiB, $((SPIN_COUNT / 5)) after $((SPIN_WARMUP / 10)) at 64 KiB."
    echo "Goal (issue 14): jqb spin p50 ≤ 1.5× the floor, p99 ≤ 3×. *floor +8*: the floor with both payloads 8 bytes"
    echo "past a cache-line boundary (\`qbn-floor --offset 8\`), where a libqb chunk's payload usually starts. *libqb-layout"
    echo "floor*: \`qbn-floor --layout jqb\`, two C processes moving each message through libqb-compatible rings exactly as"
    echo "two spinning jqb ends do (header lines, chunk positions, the writer's locked add and fence, the reader's"
    echo "detection and reclaim): the least any implementation of libqb's wire layout can do here; × layout: jqb spin p50"
    echo "over it, per round (the part of the gap that is jqb's code, not the layout)."
    echo
    echo "| size | floor p50 µs | floor p99 µs | jqb spin p50 µs | jqb spin p99 µs | p50 × floor | p99 × floor | floor +8 p50 / p99 µs | libqb-layout floor p50 / p99 µs | p50 × layout | native → jqb ($PHASED) p50 / p99 µs | native ↔ native blocking (split) p50 µs |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for size in "${SPIN_SIZES[@]}"; do
        declare -A m=()
        for k in floor floor8 floorlq spin phased; do
            for c in 4 5; do
                m[$k$c]=$(awk -F'\t' -v s="$size" -v k="$k" -v c="$c" '$2 == s && $3 == k { print $c }' "$rounds" | median)
            done
        done
        for c in 4 5; do
            m[ratio$c]=$(awk -F'\t' -v s="$size" -v c="$c" '$2 == s && $4 != "-" { v[$1, $3] = $c; r[$1] = 1 }
                END { for (i in r) if (v[i, "floor"] != "" && v[i, "spin"] != "" && v[i, "floor"] > 0)
                    printf "%.4f\n", v[i, "spin"] / v[i, "floor"] }' "$rounds" | median)
        done
        m[lratio]=$(awk -F'\t' -v s="$size" '$2 == s && $4 != "-" { v[$1, $3] = $4; r[$1] = 1 }
            END { for (i in r) if (v[i, "floorlq"] != "" && v[i, "spin"] != "" && v[i, "floorlq"] > 0)
                printf "%.4f\n", v[i, "spin"] / v[i, "floorlq"] }' "$rounds" | median)
        med=$(awk -F'\t' -v s="$size" '$1 == "rtt" && $2 == "shm" && $3 == "split" && $4 == s && $5 == "native" &&
            $6 == "native" { print $7 }' "$results" | median)
        echo "$size ${m[floor4]} ${m[spin4]} ${m[floor5]} ${m[spin5]}" >>"$work/spin.dat"
        awk -v s="$size" -v f4="${m[floor4]}" -v f5="${m[floor5]}" -v s4="${m[spin4]}" -v s5="${m[spin5]}" \
            -v r4="${m[ratio4]}" -v r5="${m[ratio5]}" -v p4="${m[phased4]}" -v p5="${m[phased5]}" -v nn="$med" \
            -v o4="${m[floor84]}" -v o5="${m[floor85]}" -v l4="${m[floorlq4]}" -v l5="${m[floorlq5]}" \
            -v lr="${m[lratio]}" '
            function us(x) { return (x == "-" || x == "") ? "-" : sprintf("%.2f", x / 1000.0) }
            function x(v) { return (v == "-" || v == "") ? "-" : sprintf("%.2f", v) }
            BEGIN { printf "| %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s / %s | %s |\n", s, us(f4),
                us(f5), us(s4), us(s5), x(r4), x(r5), us(o4), us(o5), us(l4), us(l5), x(lr), us(p4), us(p5),
                nn == "-" ? "-" : sprintf("%.1f", nn / 1000.0) }'
        unset m
    done
    if [ "$SPIN_PROBE" = 1 ]; then
        two() { awk '{ print ($1 == "-" ? "-" : sprintf("%.2f", $1)) }'; }
        echo
        echo "Same regime only (\`SPIN_PROBE=1\`: \`qbn-regime\` measured the vCPUs' line-transfer regime during every floor and"
        echo "jqb spin run; f, n, s in the rounds below): the medians of the per-round ratios over the rounds where the floor and"
        echo "jqb spin ran in the same regime."
        echo
        for size in "${SPIN_SIZES[@]}"; do
            awk -F'\t' -v s="$size" '$2 == s && $4 != "-" && NF >= 7 { v[$1, $3, 4] = $4; v[$1, $3, 5] = $5; g[$1, $3] = $7; r[$1] = 1 }
                END { for (i in r) if (g[i, "floor"] ~ /^[fns]$/ && g[i, "floor"] == g[i, "spin"] && v[i, "floor", 4] > 0)
                    printf "%.4f %.4f\n", v[i, "spin", 4] / v[i, "floor", 4], v[i, "spin", 5] / v[i, "floor", 5] }' "$rounds" \
                >"$work/same.txt"
            echo "* $size B: p50 × floor $(cut -d' ' -f1 "$work/same.txt" | median | two), p99 × floor" \
                "$(cut -d' ' -f2 "$work/same.txt" | median | two), over $(wc -l <"$work/same.txt") of $ROUNDS rounds"
        done
    fi
    if [ "${spin_chart_ok:-0}" = 1 ]; then
        echo
        echo "![jqb spin mode against the hardware floor: p50 and p99 per size](spin-floor.svg)"
    fi
    echo
    echo "Every round (p50 / p99 µs):"
    echo
    echo "| round | size | floor | floor +8 | libqb-layout floor | jqb spin | p50 × floor | p99 × floor | p50 × layout | native → jqb ($PHASED) |"
    echo "|---:|---:|---|---|---|---|---:|---:|---:|---|"
    awk -F'\t' '
        function us(x) { return (x == "-" || x == "") ? "-" : sprintf("%.2f", x / 1000.0) }
        function r(a, b) { return (a == "-" || b == "-" || b == 0 || a == "" || b == "") ? "-" : sprintf("%.2f", a / b) }
        function g(x) { return x == "" ? "" : " (" x ")" }
        { k = $1 SUBSEP $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k; R[n] = $1; S[n] = $2 }
          p50[k, $3] = $4; p99[k, $3] = $5; reg[k, $3] = NF >= 7 ? $7 : "" }
        END { for (i = 1; i <= n; i++) { k = order[i]
            printf "| %s | %s | %s / %s%s | %s / %s%s | %s / %s%s | %s / %s%s | %s | %s | %s | %s / %s |\n", R[i], S[i],
              us(p50[k, "floor"]), us(p99[k, "floor"]), g(reg[k, "floor"]), us(p50[k, "floor8"]), us(p99[k, "floor8"]),
              g(reg[k, "floor8"]), us(p50[k, "floorlq"]), us(p99[k, "floorlq"]), g(reg[k, "floorlq"]), us(p50[k, "spin"]),
              us(p99[k, "spin"]), g(reg[k, "spin"]),
              r(p50[k, "spin"], p50[k, "floor"]), r(p99[k, "spin"], p99[k, "floor"]),
              r(p50[k, "spin"], p50[k, "floorlq"]), us(p50[k, "phased"]), us(p99[k, "phased"]) } }' "$rounds"
}

# The spin-vs-floor medians as a chart next to OUT (gnuplot; skipped when it cannot be had).
spin_chart_ok=0
spin_chart() {
    [ -s "$work/spin.dat" ] || return 0
    ensure_gnuplot || { echo "bench-compare: no gnuplot: spin-floor chart skipped" >&2; return 0; }
    sed 's/ - / NaN /g; s/ -$/ NaN/' "$work/spin.dat" | awk '{ printf "\"%s B\"", $1; for (i = 2; i <= 5; i++)
        printf " %s", ($i == "NaN" ? "NaN" : $i / 1000.0); print "" }' >"$work/spin-us.dat"
    cat >"$work/spin.gp" <<GP
set terminal svg size 760,380 dynamic font 'sans,12' background rgb 'white'
set output '$work/spin.svg'
set title 'jqb spin ↔ jqb spin vs the hardware floor (SHM, two vCPUs; medians of $ROUNDS rounds)'
set style data histogram; set style histogram clustered gap 1; set style fill solid 0.8 border -1
set logscale y; set ylabel 'round trip (µs)'; set grid ytics; set key top left; set datafile missing 'NaN'
plot '$work/spin-us.dat' using 2:xtic(1) title 'floor p50', '' using 3 title 'jqb spin p50', \\
     '' using 4 title 'floor p99', '' using 5 title 'jqb spin p99'
GP
    if gnuplot "$work/spin.gp" 2>"$work/spin-gnuplot.err"; then
        cp "$work/spin.svg" "$(dirname "$out_path")/spin-floor.svg" && spin_chart_ok=1
    else
        echo "bench-compare: gnuplot failed: $(head -1 "$work/spin-gnuplot.err")" >&2
    fi
}

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
jdk=$(java -version 2>&1 | head -1)
jvm=$(java -version 2>&1 | sed -n 3p)
libqb=$(pkg-config --modversion libqb 2>/dev/null || dpkg-query -W -f '${Version}' libqb100 2>/dev/null || echo unknown)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
floor_tables >/dev/null
spin_chart
dirty=$(git status --porcelain -- java native benchmarks 2>/dev/null | grep -q . && echo " (with uncommitted changes)")

{
    echo "# Performance: jqb and native libqb side by side"
    echo
    echo "Generated by \`make bench-compare\` ([benchmarks/bench-compare.sh](../benchmarks/bench-compare.sh)); re-run"
    echo "it to refresh this file. One run, every figure from a single measurement: treat differences of less than"
    echo "~10-20 % as noise (see *Noise* below). JMH micro-benchmarks: \`make bench\`, see"
    echo "[benchmarks/README.md](../benchmarks/README.md)."
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| date | $started |"
    echo "| vCPUs (nproc) | $(nproc) |"
    echo "| CPU | $cpu_model |"
    echo "| kernel | $(uname -srm) |"
    echo "| JDK | $jdk; $jvm |"
    echo "| libqb | $libqb (Debian), native peers in native/ built with $(gcc --version 2>/dev/null | head -1) |"
    echo "| jqb | $rev$dirty |"
    echo "| load average (1/5/15 min) | before: $load_before; after: $load_after |"
    echo "| duration | ${elapsed} s |"
    echo
    echo "## Method"
    echo
    echo "* Echo contract (request id 1, the server returns the payload behind a 24-byte response header). Servers:"
    echo "  \`native/build/qbn-server\` (libqb's \`qb_ipcs\` on its \`qb_loop\`) and \`bin/jqb echo-server\`. Clients:"
    echo "  \`native/build/qbn-client bench\` and \`bin/jqb bench\`, the same loop and the same output line."
    echo "* **pinned**: server and client both \`taskset -c $CPU_SERVER\`; **split**: server \`-c $CPU_SERVER\`, client"
    echo "  \`-c $CPU_CLIENT_SPLIT\`. The four servers run for the whole benchmark, idle unless a client talks to them;"
    echo "  the jqb servers' JIT is warmed up first (native client, every size, and 6000 connections: C2 settles on the set-up path after about that many)."
    echo "* Blocking: $COUNT round trips per cell after $WARMUP warm-up round trips in the same process; RTT ="
    echo "  \`send\` + \`recv\` of one echo, timed one by one; msgs/s = round trips per second over the timed loop."
    echo "  Both clients ask for a buffer of $MAX bytes (64 KiB payload + headers, needed by SOCKET)."
    echo "* Pipelined: $PIPE_ROUNDS rounds; in each, every cell's four pairings run back to back (order reversed"
    echo "  every other round). A run: $PIPE_COUNT requests after $PIPE_WARMUP blocking round trips and $PIPE_WARMUP pipelined"
    echo "  requests in the same client process (each mode warmed with itself, both clients; the jqb client runs"
    echo "  the $PIPE_WARMUP pipelined ones three times: HotSpot compiles its loop as a whole method during the"
    echo "  third), the jqb servers' pipelined"
    echo "  path warmed first ($PIPE_COUNT pipelined requests per size from the native client);"
    echo "  at most one response ring's worth minus one outstanding (more can deadlock libqb: the server"
    echo "  stops reading doorbells while its response ring is full, and \`qb_ipcc_send\` spins on the full doorbell"
    echo "  socket); a send that would block drains the ready responses. Throughput only: msgs/s and MB/s are the"
    echo "  medians over the rounds, and **msgs/s ×** is the median of the per-round ratios to that round's"
    echo "  native → native (not the ratio of the medians). The phase took ${pipe_seconds:--} s."
    echo "* Connection set-up: $CONNECT_ROUNDS rounds as the pipelined ones (the phase took ${connect_seconds:--} s); a run:"
    echo "  $CONNECT_COUNT times connect + handshake + disconnect after $CONNECT_WARMUP warm-up"
    echo "  connections in the same client process (jqb clients: HotSpot's C2 compiles a method called once per"
    echo "  connect only after ≈5000 calls, so the warm-up is twice that and the JIT has finished the set-up path; the"
    echo "  cold start is its own table). p50 and p99 are medians over the rounds; **p50 ×** and **p99 ×** the medians"
    echo "  of the per-round ratios to that round's native → native."
    echo "* Spin mode and the hardware floor; the scale curve (N concurrent clients); the cold start: see their"
    echo "  sections below, each with its own method."
    echo "* Ratios (×) divide by native client ↔ native server in the same transport, CPUs, size and mode: below 1 is"
    echo "  faster for times, above 1 is better for msgs/s."
    echo "* **Noise**: the 2-vCPU VM is shared with other work (unit tests of other engineers ran concurrently; see"
    echo "  the load average above). Single-run figures except the pipelined and set-up tables (medians of their rounds); p99 is"
    echo "  especially sensitive."
    echo
    echo "## Results"
    echo
    tables
    echo
    echo "<!-- spin-floor:begin -->"
    floor_tables
    echo "<!-- spin-floor:end -->"
    echo
    echo "<!-- scale-curve:begin -->"
    cat "$scale_md"
    echo "<!-- scale-curve:end -->"
    echo
    echo "<!-- cold-start:begin -->"
    cat "$cold_md"
    echo "<!-- cold-start:end -->"
    if [ -s "$gc_md" ]; then
        echo
        echo "<!-- jmh-gc:begin -->"
        cat "$gc_md"
        echo "<!-- jmh-gc:end -->"
    elif grep -q "^<!-- jmh-gc:begin -->" "$root/$OUT" 2>/dev/null; then
        echo # not measured in this run (SKIP_GC=1): kept from the previous file (make bench-gc writes it)
        sed -n "/^<!-- jmh-gc:begin -->/,/^<!-- jmh-gc:end -->/p" "$root/$OUT"
    fi
    # kept from the previous file: their own scripts write these (make bench-notify, bench-libipc, bench-ring-memory)
    for section in notify-compare libipc-compare ring-memory-ab; do
        if grep -q "^<!-- $section:begin -->" "$root/$OUT" 2>/dev/null; then
            echo
            sed -n "/^<!-- $section:begin -->/,/^<!-- $section:end -->/p" "$root/$OUT"
        fi
    done
    echo
    echo "<!-- stream-compare:begin -->"
    cat "$stream_md"
    echo "<!-- stream-compare:end -->"
    echo
    echo "Servers stopped after the run: $shm_check (server pids $server_pids_text)."
    if [ -f "$root/benchmarks/performance-notes.md" ]; then
        echo
        echo "<!-- notes:begin -->"
        cat "$root/benchmarks/performance-notes.md"
        echo "<!-- notes:end -->"
    fi
    echo
    echo "## Commands"
    echo
    echo "Exactly what ran, in order (\`make bench-compare\` = \`benchmarks/bench-compare.sh\`; service names carry"
    echo "the script's pid):"
    echo
    echo '```'
    sed "s|$root/||g" "$commands"
    echo '```'
} >"$out_path.tmp"
if [ "$SKIP_BLOCKING" = 1 ] && [ -f "$out_path" ]; then
    # A partial run keeps the file's other tables: only the sections it measured replace theirs.
    rm -f "$out_path.tmp"
    spin_md="$work/spin-floor.md"
    if [ "$SKIP_SPIN" != 1 ]; then
        { echo "Measured $started, load average before $load_before, after $load_after (\`SKIP_BLOCKING=1\` run)."
          echo; floor_tables; } >"$spin_md"
        splice_section "$out_path" spin-floor "$spin_md"
    fi
    [ "$SKIP_SCALE" != 1 ] && splice_section "$out_path" scale-curve "$scale_md"
    [ "$SKIP_COLD" != 1 ] && splice_section "$out_path" cold-start "$cold_md"
    [ -s "$gc_md" ] && splice_section "$out_path" jmh-gc "$gc_md"
    [ -f "$root/benchmarks/performance-notes.md" ] &&
        splice_section "$out_path" notes "$root/benchmarks/performance-notes.md"
    echo "bench-compare: partial run (SKIP_BLOCKING=1): only the measured sections of $OUT were replaced"
else
    mv "$out_path.tmp" "$out_path"
fi

echo
tables
echo
floor_tables
echo
echo "bench-compare: $shm_check; ${elapsed} s; written to $OUT"

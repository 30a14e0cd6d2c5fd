#!/usr/bin/env bash
# CPU per connect (connect + handshake + close) of a client and of the native server it connects to, both pinned to
# one vCPU: the on-CPU time (/proc/.../schedstat, nanoseconds) of the client's connecting thread, of the whole client
# process and of the server over a WINDOW-second stretch of a steady run, divided by the connects in that stretch
# (the connecting thread's socket(2) calls, counted with `perf stat`, / 3: both clients make three per connect).
# Rounds alternate libqb's client (qbn-client) and each jqb build's; the jqb client is measured after WARMUP connects.
# Pinned, wall time per connect is the two processes' CPU (the vCPU is never idle inside a connect), so this splits a
# set-up gap into "client" and "server" (performance-notes.md, "Connection set-up: the jqb client against libqb's
# server, pinned").
#
# Usage: benchmarks/connect-cpu.sh [ROUNDS=2] [BUILD_DIR...]   (a build: a checkout with `make` done; default: this)
# Knobs: TRANSPORT (socket), CPU (0), WARMUP (10000), WINDOW (3), SETTLE (jqb: seconds before the window, 4; the
# warm-up must be over by then: raise it for SHM, whose connects take ~4x longer). Needs perf (root).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/lib.sh"

ROUNDS=${1:-2}
shift 1 2>/dev/null || true
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("$root")
TRANSPORT=${TRANSPORT:-socket}
CPU=${CPU:-0}
WARMUP=${WARMUP:-10000}
WINDOW=${WINDOW:-3}
SETTLE=${SETTLE:-4}
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
export JQB_LOG_LEVEL=warn
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-connect-cpu"
command -v perf >/dev/null || { echo "connect-cpu: needs perf" >&2; exit 2; }

start_work connect-cpu
declare -A SVC
SVC_PREFIX=jqbccpu
start_service srv taskset -c "$CPU" "$NSRV" --transport "$TRANSPORT"
spid=${pids[0]}

# on-CPU ns: connecting thread, client process, server process
oncpu() {
    echo "$(cut -d' ' -f1 "/proc/$1/task/$2/schedstat") $(cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { print s }')" \
        "$(cat /proc/"$spid"/task/*/schedstat | awk '{ s += $1 } END { print s }')"
}

run() { # label settle client-command...
    local label=$1 settle=$2 cpid main a z socks
    shift 2
    taskset -c "$CPU" "$@" >"$work/out" 2>"$work/err" &
    cpid=$!
    sleep "$settle"
    # The connecting thread: the client's thread with the most CPU so far.
    main=$(for d in /proc/$cpid/task/*; do echo "$(cut -d' ' -f1 "$d/schedstat") ${d##*/}"; done | sort -n | tail -1 | cut -d' ' -f2)
    a=$(oncpu "$cpid" "$main") || { echo "connect-cpu: $label ended before the window" >&2; return; }
    perf stat -x, -e syscalls:sys_enter_socket -t "$main" -o "$work/stat" -- sleep "$WINDOW"
    z=$(oncpu "$cpid" "$main")
    socks=$(grep sys_enter_socket "$work/stat" | cut -d, -f1)
    wait "$cpid"
    echo "$a $z" | awk -v n="$((socks / 3))" -v l="$label" -v r="$(grep '^connect ' "$work/out")" '{
        printf "%s connects=%d thread_us=%.1f process_us=%.1f server_us=%.1f | %s\n", l, n, ($4 - $1) / n / 1000,
            ($5 - $2) / n / 1000, ($6 - $3) / n / 1000, r }'
}

for r in $(seq 1 "$ROUNDS"); do
    run "round=$r $TRANSPORT client=native" 1.5 "$NCLI" bench-connect --service "${SVC[srv]}" --count 40000 \
        --warmup 10 --max 65576
    i=0
    for b in "${builds[@]}"; do
        i=$((i + 1))
        run "round=$r $TRANSPORT client=$i" "$SETTLE" "$b/bin/jqb" bench-connect --service "${SVC[srv]}" \
            --count 40000 --warmup "$WARMUP" --max 65576
    done
done

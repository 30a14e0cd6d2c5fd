#!/usr/bin/env bash
# RSS per connection of one long-running server over many rounds (issue 14 item 5): the native libqb server and the
# jqb echo server, each started once and given ROUNDS rounds of N native `qbn-client bench-many` clients (connect,
# a few round trips, close). Per round: (VmRSS with the N connections open - VmRSS before the round) / N, in KiB
# (and in brackets its RssAnon + RssShmem parts), and
# for the jqb server its young collections so far (jstat's YGC). It separates the two states a one-round figure
# mixes: libqb's malloc reuses the memory of the previous round's connections from round 2 on; a JVM reuses its
# heap's pages only after a young collection has recycled them, so until then every byte a connect allocates, kept
# or garbage, lands on a page never touched before.
#
# Usage: benchmarks/rss-rounds.sh [ROUNDS=80] [CLIENTS=1000] [TRANSPORT=socket] [BUILD_DIR=this checkout]
# Knobs: SERVERS ("native jqb"), CPU_SERVER (0), CPU_CLIENT (1), WARMUP_MS (300) + DURATION_MS (200) per round
# (every connection makes round trips before the figure is read: its pages are touched).
# The server is pinned to one vCPU, so its JVM picks the serial collector (the JVM's default on one CPU), whose
# young generation is ~100 MB here: ~70 rounds of 1,000 SOCKET connects before its first young collection.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
. "$root/benchmarks/lib.sh"

ROUNDS=${1:-80}
CLIENTS=${2:-1000}
TRANSPORT=${3:-socket}
BUILD=$(cd "${4:-$root}" && pwd)
SERVERS=${SERVERS:-native jqb}
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
DURATION_MS=${DURATION_MS:-200}
WARMUP_MS=${WARMUP_MS:-300}
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
"$NCLI" --help 2>&1 | grep -q bench-many || { echo "rss-rounds: $NCLI has no bench-many; run 'make native'" >&2; exit 2; }
hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || true
export JQB_LOG_LEVEL=${JQB_LOG_LEVEL:-warn}
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-rss-rounds"

work=$(mktemp -d /tmp/jqb-rss-rounds.XXXXXX)
pids=()
trap cleanup_work EXIT
trap 'exit 130' INT TERM

echo "# rss-rounds: $ROUNDS rounds of $CLIENTS $TRANSPORT clients, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for srv in $SERVERS; do
    svc="jqbrss-$srv-$$"
    log="$work/$srv.log"
    if [ "$srv" = native ]; then
        taskset -c "$CPU_SERVER" "$NSRV" --service "$svc" --transport "$TRANSPORT" >"$log" 2>"$log.err" </dev/null &
    else
        taskset -c "$CPU_SERVER" "$BUILD/bin/jqb" echo-server --service "$svc" --transport "$TRANSPORT" \
            >"$log" 2>"$log.err" </dev/null &
    fi
    pid=$!
    pids+=("$pid")
    wait_ready "$log" "$pid" "$srv server"
    line_out="$srv:"
    base_fds=$(ls "/proc/$pid/fd" | wc -l)
    for round in $(seq 1 "$ROUNDS"); do
        # The previous round's connections torn down first (the server's fd count back to its idle figure, at most
        # 10 s): otherwise "before" still holds some of their pages and the round's growth reads low.
        for _ in $(seq 1 200); do
            [ "$(ls "/proc/$pid/fd" | wc -l)" -le "$base_fds" ] && break
            sleep 0.05
        done
        idle=$(proc_kb "$pid" VmRSS)
        idle_anon=$(proc_kb "$pid" RssAnon)
        idle_shmem=$(proc_kb "$pid" RssShmem)
        line=$(taskset -c "$CPU_CLIENT" "$NCLI" bench-many --service "$svc" --clients "$CLIENTS" \
            --duration-ms "$DURATION_MS" --warmup-ms "$WARMUP_MS" --size 64 --max 8192 --server-pid "$pid" 2>"$work/client.err" \
            | grep '^clients=' | tail -1)
        if [ -z "$line" ]; then
            echo "rss-rounds: FAILED round $round against $srv" >&2
            tail -3 "$work/client.err" >&2
            break
        fi
        open=$(field "$line" server_rss_kb)
        per=$(awk -v a="$idle" -v b="$open" -v n="$CLIENTS" -v aa="$idle_anon" -v ba="$(field "$line" server_anon_kb)" \
            -v as="$idle_shmem" -v bs="$(field "$line" server_shmem_kb)" \
            'BEGIN { printf "%.1f[%.1f+%.1f]", (b - a) / n, (ba - aa) / n, (bs - as) / n }')
        if [ "$srv" = jqb ] && command -v jstat >/dev/null; then
            # YGC is the 7th column from the end of `jstat -gc` (… YGC YGCT FGC FGCT CGC CGCT GCT).
            ygc=$(jstat -gc "$pid" 2>/dev/null | awk 'NR == 2 { print $(NF - 6) }')
            per="$per(y${ygc:-?})"
        fi
        line_out="$line_out $per"
    done
    echo "$line_out"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done

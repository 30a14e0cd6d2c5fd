#!/usr/bin/env bash
# What an open SOCKET connection costs the jqb echo server (issue 14 item 5): the Java objects it keeps, class by
# class (`jcmd PID GC.class_histogram`, a full collection, with N native libqb clients connected minus the same with
# none), the server's RssAnon/RssShmem growth over the same two points, and, with NMT on, the native memory
# categories that moved (`jcmd PID VM.native_memory summary.diff`).
#
# Usage: benchmarks/socket-footprint.sh [CLIENTS=1000] [BUILD_DIR=this checkout]
# The clients are `qbn-client bench-many` (one process, one connection and one echo thread each), connected and
# served once before the measurement and held open during it. Needs jcmd (the JDK's). Prints the histogram
# difference (bytes and instances per connection, largest first) and the RSS/NMT lines.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
. "$root/benchmarks/lib.sh"

CLIENTS=${1:-1000}
BUILD=$(cd "${2:-$root}" && pwd)
NCLI="$root/native/build/qbn-client"
need_native_word socket-footprint "$NCLI" bench-many
command -v jcmd >/dev/null || { echo "socket-footprint: jcmd (JDK) is required" >&2; exit 2; }
raise_fd_limit
export JQB_LOG_LEVEL=${JQB_LOG_LEVEL:-warn}
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -XX:NativeMemoryTracking=summary -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-footprint"

start_work footprint
svc="jqbfootprint-$$"
"$BUILD/bin/jqb" echo-server --service "$svc" --transport socket >"$work/server.log" 2>"$work/server.log.err" </dev/null &
pids+=($!)
wait_ready "$work/server.log" "$!" "echo-server"
# The JVM's pid: bin/jqb execs java, so it is the launcher's.
jpid=${pids[0]}

# Warm-up: the JIT, the classes, the service's shared receive area; every connection of it is gone afterwards.
"$NCLI" bench --service "$svc" --count 20000 --size 64 --max 8192 --warmup 0 >/dev/null 2>&1
"$NCLI" bench-many --service "$svc" --clients "$CLIENTS" --duration-ms 1000 --warmup-ms 0 --size 64 --max 8192 \
    >/dev/null 2>&1

jcmd "$jpid" GC.class_histogram >"$work/h0" 2>&1
jcmd "$jpid" VM.native_memory baseline >/dev/null 2>&1
anon0=$(proc_kb "$jpid" RssAnon)
shmem0=$(proc_kb "$jpid" RssShmem)
"$NCLI" bench-many --service "$svc" --clients "$CLIENTS" --duration-ms 600000 --warmup-ms 0 --size 64 --max 8192 \
    >/dev/null 2>&1 &
cpid=$!
pids+=($cpid)
# Until every connection is open: the server holds three fds per SOCKET connection.
fds0=$(ls "/proc/$jpid/fd" | wc -l)
for _ in $(seq 1 1200); do
    [ "$(ls "/proc/$jpid/fd" | wc -l)" -ge $((fds0 + 3 * CLIENTS)) ] && break
    kill -0 "$cpid" 2>/dev/null || { echo "socket-footprint: bench-many ended early" >&2; exit 1; }
    sleep 0.1
done
sleep 1 # every client thread's first round trip (they start together once all are connected)
anon1=$(proc_kb "$jpid" RssAnon)
shmem1=$(proc_kb "$jpid" RssShmem)
jcmd "$jpid" GC.class_histogram >"$work/h1" 2>&1
jcmd "$jpid" VM.native_memory summary.diff >"$work/nmt" 2>&1
kill -TERM "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null

echo "== socket-footprint: $CLIENTS open SOCKET connections, $(basename "$BUILD"), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server RssAnon +$(( (anon1 - anon0) * 1024 / CLIENTS )) B/conn, RssShmem +$(( (shmem1 - shmem0) * 1024 / CLIENTS )) B/conn" \
    "(the RssAnon figure includes the set-up garbage allocated since the first histogram's collection)"
awk -v n="$CLIENTS" '
    FNR == 1 { f++ }
    $1 ~ /^[0-9]+:$/ { b[f, $4] = $3; i[f, $4] = $2; names[$4] = 1 }
    END {
        for (k in names) { d = b[2, k] - b[1, k]; if (d != 0) { tot += d; printf "%9.1f B/conn %6.2f inst/conn  %s\n", d / n, (i[2, k] - i[1, k]) / n, k } }
        printf "%9.1f B/conn total live heap\n", tot / n
    }' "$work/h0" "$work/h1" | sort -rn | head -25
echo "NMT categories that moved (KB, all connections):"
grep -E '^-.*\([^)]*[+-][0-9]+KB' "$work/nmt" | sed 's/^-  */  /' | head -12

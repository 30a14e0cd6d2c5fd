#!/usr/bin/env bash
# Where a jqb <-> jqb spin round trip spends its CPU time: `perf record -e cpu-clock` (a software clock: this VM
# exposes no hardware counters) on the spinning echo server and the spinning bench client, with the JIT's symbols
# from -XX:+DumpPerfMapAtExit. Prints each side's hottest symbols (the server's loop thread, the client's main
# thread). Spins both vCPUs for a few seconds on a quiet machine; on a loaded one the spinning peers keep being
# preempted and a run takes minutes (each client run is cut at PROFILE_TIMEOUT seconds, default 120).
#
# Usage: benchmarks/profile-spin.sh [SIZE=64] [COUNT=4000000]; knobs CPU_SERVER (0), CPU_CLIENT (1), TOP (25).
# Needs perf (Debian: linux-perf) and root or perf_event_paranoid <= 1.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. "$root/benchmarks/lib.sh"

SIZE=${1:-64}
COUNT=${2:-4000000}
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
TOP=${TOP:-25}
command -v perf >/dev/null || { echo "profile-spin: perf is not installed (Debian: linux-perf)" >&2; exit 2; }

work=$(mktemp -d /tmp/jqb-profile-spin.XXXXXX)
ls /tmp/perf-*.map 2>/dev/null | sort >"$work/maps.before"
pids=()
trap cleanup_work EXIT
export JQB_LOG_LEVEL=warn
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-profile"
svc="jqbprof-$$"

taskset -c "$CPU_SERVER" bin/jqb echo-server --service "$svc" --transport shm --wait spin >"$work/server.log" \
    2>"$work/server.log.err" </dev/null &
server=$!
pids+=("$server")
wait_ready "$work/server.log" "$server" "the spinning jqb server"

# Warm both sides first (the JIT), then profile a fresh client's measured loop together with the server.
timeout "${PROFILE_TIMEOUT:-120}" taskset -c "$CPU_CLIENT" bin/jqb bench --service "$svc" --count 1000000 \
    --size "$SIZE" --warmup 0 --wait spin >/dev/null 2>&1
perf record -q -e cpu-clock -F 4000 -p "$server" -o "$work/server.data" 2>/dev/null &
perf_server=$!
perf record -q -e cpu-clock -F 4000 -o "$work/client.data" -- timeout "${PROFILE_TIMEOUT:-120}" taskset -c "$CPU_CLIENT" bin/jqb bench \
    --service "$svc" --count "$COUNT" --size "$SIZE" --warmup "$COUNT" --wait spin 2>/dev/null | grep '^size='
kill -INT "$perf_server" 2>/dev/null
wait "$perf_server" 2>/dev/null
stop_pid "$server" # writes /tmp/perf-<pid>.map at exit
pids=()

report() { # data comm
    perf report -i "$1" --stdio --sort symbol --comm "$2" 2>/dev/null | grep -v '^#' | grep -v '^$' | head -"$TOP"
}
echo "== client ($SIZE B, spin), main thread: share of samples by symbol"
report "$work/client.data" java
# The server's loop thread is named after the service.
loop_comm=$(perf report -i "$work/server.data" --stdio --sort comm 2>/dev/null | grep -v '^#' | awk 'NF { print $2; exit }')
echo "== server loop thread ($loop_comm): share of samples by symbol"
report "$work/server.data" "$loop_comm"
# The JIT symbol maps this run wrote (the server's, the clients').
ls /tmp/perf-*.map 2>/dev/null | sort | comm -13 "$work/maps.before" - | xargs -r rm -f

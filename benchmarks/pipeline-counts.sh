#!/usr/bin/env bash
# System calls and context switches of a pipelined run, on both ends (perf stat on the client command and on the
# server's pid), for each build's jqb client against a native libqb server (jn) and its own jqb server (jj), and
# libqb's client against both (nn, nj: the reference the jqb client is compared with), pinned (client on the
# server's CPU) and split. What the pipelined path's cost is made of, independent of the
# machine's load (throughput on this VM moves from minute to minute; counts do not). Requests counted: the client's
# WARMUP blocking round trips + WARMUP pipelined (the jqb client: WARM_PASSES times, `bench --warm-passes`, instead of
# until its JIT is quiet, so that each run's number of requests is known) + COUNT pipelined; each line says how many.
#
# Usage: benchmarks/pipeline-counts.sh [BUILD_DIR...]   (a build: a checkout with `make` done; default: this)
# Knobs: COUNT (200000), WARMUP (20000), WARM_PASSES (3), SIZE (64), TRANSPORT (shm; or socket), CPUSETS ("pinned split"),
# PAIRS ("jn jj"; also nn, nj), CPU_SERVER (0), CPU_CLIENT (1), ROUNDS (1: the pairs and builds alternate within
# each round), SERVER_WARMUP (0: pipelined requests the native client sends each jqb server, every one of its
# sizes' paths warmed, before anything is counted; with WARMUP=0 too, a line counts COUNT pipelined requests of a
# warm server and nothing else). Needs perf with the syscalls tracepoints (root, or kernel.perf_event_paranoid <= -1).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/lib.sh"

builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("$root")
COUNT=${COUNT:-200000}
ROUNDS=${ROUNDS:-1}
SERVER_WARMUP=${SERVER_WARMUP:-0}
WARMUP=${WARMUP:-20000}
WARM_PASSES=${WARM_PASSES:-3}
SIZE=${SIZE:-64}
TRANSPORT=${TRANSPORT:-shm}
read -r -a CPUSETS <<<"${CPUSETS:-pinned split}"
read -r -a PAIRS <<<"${PAIRS:-jn jj}"
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
export JQB_LOG_LEVEL=warn
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-pipeline-counts"
command -v perf >/dev/null || { echo "pipeline-counts: perf is not installed" >&2; exit 1; }

start_work pipeline-counts
declare -A SVC
declare -A PID
declare -A PASSES
declare -A SUPPORTED
SVC_PREFIX=jqbpcn
start_service n taskset -c "$CPU_SERVER" "$NSRV" --transport "$TRANSPORT"
PID[n]=${pids[-1]}
i=0
for b in "${builds[@]}"; do
    i=$((i + 1))
    start_service "j$i" taskset -c "$CPU_SERVER" "$b/bin/jqb" echo-server --transport "$TRANSPORT"
    PID[j$i]=${pids[-1]}
    if [ "$SERVER_WARMUP" -gt 0 ]; then
        "$NCLI" bench --service "${SVC[j$i]}" --count "$SERVER_WARMUP" --size "$SIZE" --max 65576 --warmup 0 \
            --pipeline >/dev/null 2>&1
    fi
    # A build from before `bench --warm-passes` warms up with one pipelined pass; a newer one gets the flag whatever
    # WARM_PASSES is (without it a newer build runs 3-8 adaptive passes, and requests= would be wrong).
    PASSES[$i]=1
    SUPPORTED[$i]=0
    if "$b/bin/jqb" bench --help 2>&1 | grep -q -- --warm-passes; then
        PASSES[$i]=$WARM_PASSES
        SUPPORTED[$i]=1
    fi
done

stat_value() { awk -v k="$2" '$2 == k { gsub(",", "", $1); print $1 }' "$1"; }

echo "size=$SIZE transport=$TRANSPORT (counts per run; client: the whole bench command, server: during it)"
pipelined_warmup=$((WARMUP < COUNT ? WARMUP : COUNT))
for round in $(seq 1 "$ROUNDS"); do
for cpus in "${CPUSETS[@]}"; do
    ccpu=$CPU_SERVER
    [ "$cpus" = split ] && ccpu=$CPU_CLIENT
    for p in "${PAIRS[@]}"; do
        i=0
        for b in "${builds[@]}"; do
            i=$((i + 1))
            key=n
            cli="$b/bin/jqb"
            extra=()
            [ "${SUPPORTED[$i]}" = 1 ] && extra=(--warm-passes "${PASSES[$i]}")
            requests=$((WARMUP + PASSES[$i] * pipelined_warmup + COUNT))
            case $p in
                jj) key=j$i ;;
                nn) cli=$NCLI; [ "$i" -gt 1 ] && continue ;; # one reference per run
                nj) key=j$i; cli=$NCLI ;;
            esac
            if [ "$cli" = "$NCLI" ]; then
                extra=()
                requests=$((WARMUP + pipelined_warmup + COUNT))
            fi
            perf stat -e 'task-clock,context-switches,syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg,syscalls:sys_enter_epoll_wait' \
                -p "${PID[$key]}" -o "$work/server.txt" &
            sp=$!
            sleep 0.3 # perf attaches
            line=$(perf stat -e 'task-clock,context-switches,syscalls:sys_enter_sendto,syscalls:sys_enter_poll,syscalls:sys_enter_futex' \
                -o "$work/client.txt" taskset -c "$ccpu" "$cli" bench --service "${SVC[$key]}" --count "$COUNT" \
                --size "$SIZE" --max 65576 --warmup "$WARMUP" --pipeline "${extra[@]}" 2>&1 | grep '^size=')
            kill -INT "$sp" 2>/dev/null
            wait "$sp" 2>/dev/null
            printf 'round=%s %s %s build=%s requests=%s %s client: cpu_ms=%s sendto=%s poll=%s futex=%s cs=%s server: cpu_ms=%s recvfrom=%s recvmsg=%s epoll_wait=%s cs=%s\n' \
                "$round" "$cpus" "$p" "$i" "$requests" "$(field "$line" msgs_per_s | sed 's/^/msgs_per_s=/')" \
                "$(stat_value "$work/client.txt" msec | cut -d. -f1)" \
                "$(stat_value "$work/client.txt" syscalls:sys_enter_sendto)" \
                "$(stat_value "$work/client.txt" syscalls:sys_enter_poll)" \
                "$(stat_value "$work/client.txt" syscalls:sys_enter_futex)" \
                "$(stat_value "$work/client.txt" context-switches)" \
                "$(stat_value "$work/server.txt" msec | cut -d. -f1)" \
                "$(stat_value "$work/server.txt" syscalls:sys_enter_recvfrom)" \
                "$(stat_value "$work/server.txt" syscalls:sys_enter_recvmsg)" \
                "$(stat_value "$work/server.txt" syscalls:sys_enter_epoll_wait)" \
                "$(stat_value "$work/server.txt" context-switches)"
        done
    done
done
done

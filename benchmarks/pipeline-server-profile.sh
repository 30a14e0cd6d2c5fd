#!/usr/bin/env bash
# Where a SHM server's loop spends its CPU per request while libqb's client pipelines into it (issue 14 item 4: the
# native client -> jqb server cell), libqb's `qbn-server` and the jqb echo server side by side, under the same
# `qbn-client bench --pipeline` load (64 B by default), pinned (client on the server's CPU) and split.
#
# Per server and CPU set, two client runs of COUNT requests against a warm server:
#  1. counts: `perf stat -t LOOP_THREAD` (task-clock, context switches, system calls by kind), nothing else attached;
#  2. profile: libqb's loop with `perf record -e cpu-clock -g` (a software clock: this VM has no hardware counters),
#     the jqb loop with async-profiler `event=cpu` (mixed Java + kernel stacks, inlined frames kept), attached with
#     `jcmd JVMTI.agent_load` after the warm-up.
# Each profile's samples are put in buckets by their stack (first rule that matches: epoll_wait, doorbell recv, futex,
# other system calls, kernel outside system calls, clock reads, handler + response write, ring read + validation, the
# rest = dispatch), and each bucket's share times the loop's CPU per request of run 1 gives µs per request (async-profiler's
# own signal handler, re-arming its perf event with ioctl, is left out of the shares).
#
# Usage: benchmarks/pipeline-server-profile.sh [BUILD_DIR]   (a build: a checkout with `make` done; default: this)
# Knobs: COUNT (400000), SIZE (64), CPUSETS ("split pinned"), SERVER_WARMUP (400000), CPU_SERVER (0), CPU_CLIENT (1),
# ROUNDS (1: count runs per cell), ASYNC_PROFILER (path of libasyncProfiler.so; default /tmp/ap/linux-x64/...; the
# jqb profile is skipped without it), KEEP (a directory: keep the raw stacks there). Needs perf, jcmd, root.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/lib.sh"

build=${1:-$root}
COUNT=${COUNT:-400000}
SIZE=${SIZE:-64}
ROUNDS=${ROUNDS:-1}
SERVER_WARMUP=${SERVER_WARMUP:-400000}
read -r -a CPUSETS <<<"${CPUSETS:-split pinned}"
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
AP=${ASYNC_PROFILER:-/tmp/ap/linux-x64/libasyncProfiler.so}
KEEP=${KEEP:-}
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
export JQB_LOG_LEVEL=warn
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-pipeline-profile"
command -v perf >/dev/null || { echo "pipeline-server-profile: perf is not installed" >&2; exit 1; }

start_work pipeline-profile
declare -A SVC
declare -A TID
SVC_PREFIX=jqbpsp
start_service n taskset -c "$CPU_SERVER" "$NSRV" --transport shm
TID[n]=${pids[-1]}
start_service j taskset -c "$CPU_SERVER" "$build/bin/jqb" echo-server --transport shm
jpid=${pids[-1]}
"$NCLI" bench --service "${SVC[j]}" --count "$SERVER_WARMUP" --size "$SIZE" --max 65576 --warmup 0 --pipeline \
    >/dev/null 2>&1
TID[j]=$(ps -L -o tid=,comm= -p "$jpid" | awk '$2 ~ /^jqb-/ { print $1; exit }') # the loop thread: jqb-<service>

client() { # cpu service: one pipelined run of COUNT requests; prints msgs_per_s
    field "$(taskset -c "$1" "$NCLI" bench --service "$2" --count "$COUNT" --size "$SIZE" --max 65576 --warmup 0 \
        --pipeline 2>&1 | grep '^size=')" msgs_per_s
}
stat_value() { awk -v k="$2" '$2 == k { gsub(",", "", $1); print $1 }' "$1"; }
SYSCALLS="epoll_wait recvfrom futex sendto read write epoll_ctl"

# bucket: collapsed stacks ("frame;frame;... count") on stdin -> "bucket samples" lines.
bucket() {
    awk '
    { n = $NF; $NF = ""; s = $0; b = "" }
    s ~ /__restore_rt;[^;]*ioctl;.*perf_ioctl/ { next } # async-profiler re-arming its timer: not the server
    s ~ /do_epoll_wait|sys_epoll_wait|epoll_wait/ { b = "epoll_wait" }
    b == "" && s ~ /sys_recvfrom|unix_stream_recvmsg|__libc_recv|[^a-z_]recv[^a-z_]|recvfrom/ { b = "recvfrom (doorbells)" }
    b == "" && s ~ /sys_futex|futex_wake|futex_wait/ { b = "futex" }
    b == "" && s ~ /entry_SYSCALL_64|do_syscall_64/ { b = "other system calls" }
    b == "" && s ~ /_\[k\]|\[kernel\.kallsyms\]|asm_sysvec|asm_exc/ { b = "kernel, outside system calls (interrupts, faults)" }
    b == "" && s ~ /clock_gettime|\[vdso\]|qb_util_nano|qb_util_timespec/ { b = "clock reads (timers)" }
    b == "" && s ~ /EchoHandler|on_msg|ShmRing\.write|Connection\.(send|queue)|qb_ipcs_response_send|qb_rb_chunk_write|qb_rb_chunk_alloc|qb_rb_chunk_commit|sem_post|SharedSemaphore\.post|AbstractServerChannel\.send/ { b = "handler + response write" }
    b == "" && s ~ /ShmRing\.read|RequestReader|SharedSemaphore\.tryWait|requestSize|qb_rb_chunk_peek|qb_rb_chunk_reclaim|qb_rb_chunk_read|sem_trywait|_check_chunk|qb_rb_space|_rb_chunk/ { b = "ring read + validation" }
    b == "" { b = "dispatch, loop and the rest (user space)" }
    { sum[b] += n; total += n; if (s !~ /_\[k\] *$/) user[b] += n }
    END { for (k in sum) printf "%s\t%d\t%d\t%d\n", k, sum[k], total, user[k] }'
}

# fold: `perf script` output -> collapsed stacks (root first), as async-profiler writes them.
fold() {
    awk '
    /^[ \t]+[0-9a-f]+ / { sym = $2; for (i = 3; i < NF; i++) sym = sym " " $i; if ($NF ~ /kernel/) sym = sym "_[k]";
        st = (st == "" ? sym : sym ";" st); next }
    { if (st != "") c[st]++; st = "" }
    END { if (st != "") c[st]++; for (k in c) print k, c[k] }'
}
echo "size=$SIZE count=$COUNT per run; loop thread of each server; server on CPU $CPU_SERVER"
for cpus in "${CPUSETS[@]}"; do
    ccpu=$CPU_SERVER
    [ "$cpus" = split ] && ccpu=$CPU_CLIENT
    for k in n j; do
        name=libqb
        [ "$k" = j ] && name=jqb
        # 1. counts
        for r in $(seq 1 "$ROUNDS"); do
            ev=task-clock,context-switches,raw_syscalls:sys_enter
            for s in $SYSCALLS; do ev="$ev,syscalls:sys_enter_$s"; done
            perf stat -e "$ev" -t "${TID[$k]}" -o "$work/stat.txt" &
            sp=$!
            sleep 0.3 # perf attaches
            rate=$(client "$ccpu" "${SVC[$k]}")
            kill -INT "$sp" 2>/dev/null
            wait "$sp" 2>/dev/null
            line="cpus=$cpus server=$name round=$r msgs_per_s=$rate"
            line="$line cpu_us_per_req=$(awk -v m="$(stat_value "$work/stat.txt" msec)" -v n="$COUNT" 'BEGIN { printf "%.3f", m * 1000 / n }')"
            line="$line cs_per_req=$(awk -v m="$(stat_value "$work/stat.txt" context-switches)" -v n="$COUNT" 'BEGIN { printf "%.3f", m / n }')"
            line="$line syscalls_per_req=$(awk -v m="$(stat_value "$work/stat.txt" raw_syscalls:sys_enter)" -v n="$COUNT" 'BEGIN { printf "%.3f", m / n }')"
            for s in $SYSCALLS; do
                line="$line $s=$(awk -v m="$(stat_value "$work/stat.txt" "syscalls:sys_enter_$s")" -v n="$COUNT" 'BEGIN { printf "%.3f", m / n }')"
            done
            echo "$line" | tee -a "$work/counts"
        done
        # 2. profile
        if [ "$k" = n ]; then
            perf record -q -e cpu-clock -F 10000 -g -t "${TID[n]}" -o "$work/n.data" 2>/dev/null &
            sp=$!
            sleep 0.3
            client "$ccpu" "${SVC[n]}" >/dev/null
            kill -INT "$sp" 2>/dev/null
            wait "$sp" 2>/dev/null
            perf script -i "$work/n.data" -F ip,sym,dso 2>/dev/null | fold >"$work/$cpus-$k.collapsed"
        elif [ -f "$AP" ]; then
            # jcmd reads key=value words as its own options: the agent's option string goes quoted.
            jcmd "$jpid" JVMTI.agent_load "$AP" "\"start,event=cpu,interval=100us,threads\"" >/dev/null 2>&1
            client "$ccpu" "${SVC[j]}" >/dev/null
            jcmd "$jpid" JVMTI.agent_load "$AP" "\"stop,collapsed,file=$work/all.collapsed\"" >/dev/null 2>&1
            grep "^\[jqb-" "$work/all.collapsed" >"$work/$cpus-$k.collapsed"
        fi
        [ -n "$KEEP" ] && mkdir -p "$KEEP" && cp "$work/$cpus-$k.collapsed" "$KEEP/" 2>/dev/null
        cpu=$(grep "cpus=$cpus server=$name " "$work/counts" | while read -r l; do field "$l" cpu_us_per_req; done | median)
        echo "== $cpus, $name loop: µs per request by bucket (loop CPU $cpu µs/request, median of the count runs)"
        bucket <"$work/$cpus-$k.collapsed" | sort -t$'\t' -k2,2nr | awk -F'\t' -v cpu="$cpu" \
            '{ printf "  %-52s %5.1f %%  %.3f µs  (user space %.3f µs)\n", $1, 100 * $2 / $3, cpu * $2 / $3, cpu * $4 / $3 }'
    done
done

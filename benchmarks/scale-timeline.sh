#!/usr/bin/env bash
# One point of the scale curve, loop by loop: N native clients (`qbn-client bench-many`, all on CPU_CLIENT) against
# libqb's `qbn-server` and the jqb echo server of each given build (all on CPU_SERVER), alternating within every
# round, and per run what the server's loop thread and the two vCPUs did, per round trip (issue 14 item 5):
#
#   rt/s        the clients' aggregate round trips per second (bench-many's measured window);
#   loop_cpu    the loop thread's CPU per round trip (µs), and its context switches (= sleeps) per round trip;
#   epoll/rt    epoll_wait calls per round trip, recv/rt doorbell recvfrom calls, futex/rt futex calls;
#   waking      wake-ups per round trip done ON each CPU (sched:sched_waking counted on the waker's CPU: on the
#               server CPU mostly the loop waking clients with their responses, on the client CPU mostly doorbells
#               waking the loop), ipi_* the inter-processor interrupts each CPU sent per round trip;
#   halts       how often each vCPU went idle (cpuidle state usage: on this VM an idle vCPU halts, and waking it
#               is an IPI and a VM entry), per round trip;
#   busy        each CPU's time split over the window (/proc/stat: user/system/idle/steal, in %), and srv_cpu_us,
#               cli_cpu_us: each CPU's busy time (user + system) per round trip, in µs (from 100 Hz ticks: coarse).
#
# The counts come from one window of WINDOW_MS inside the client's measured window (`perf stat`, counting only);
# a second, shorter client run per server records the loop's epoll_wait and recvfrom returns
# (`perf record -e syscalls:sys_exit_*`, RECORD=0 skips it) for the ready fds per epoll_wait, the share of
# epoll_waits that slept, and the doorbell bytes read per recvfrom (= requests of one connection served per
# dispatch, for both servers; the medians leave out recordings of fewer than 1,000 epoll_waits: perf record attached
# to the thread sometimes catches next to nothing). Per-round-trip figures divide by rt/s × the window (srv_cpu_us, cli_cpu_us: the CPU's
# busy share of the window / rt/s).
#
# PROFILE=1 adds a third client run per server: `perf record -a -g -e cpu-clock` of both CPUs for WINDOW_MS, each
# sample put in one bucket by its stack (first match: idle; sendto's sock_def_readable = a doorbell waking the loop,
# its IPI included (interrupts are off there, so those samples land on the unlock); the rest of sendto; futex wake;
# futex wait's switch and the rest of it; epoll_wait's switch and the rest; recvfrom; interrupts; user space; other
# kernel), printed as µs per round trip per CPU ("where each vCPU's time goes").
#
# Usage: benchmarks/scale-timeline.sh [ROUNDS=3] [CLIENTS=100] [TRANSPORT=shm] [BUILD_DIR[@WAIT]...]
# Knobs: DURATION_MS (2500), WARMUP_MS (500), WINDOW_MS (1000), SIZE (64), MAX (8192), CPU_SERVER (0),
# CPU_CLIENT (1), RECORD (1), PROFILE (0). Needs perf and root. Run it under the CPU lock: it measures the whole
# machine.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib.sh
. "$root/benchmarks/lib.sh"

ROUNDS=${1:-3}
CLIENTS=${2:-100}
TRANSPORT=${3:-shm}
shift 3 2>/dev/null || shift $#
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("$root")
DURATION_MS=${DURATION_MS:-2500}
WARMUP_MS=${WARMUP_MS:-500}
WINDOW_MS=${WINDOW_MS:-1000}
SIZE=${SIZE:-64}
MAX=${MAX:-8192}
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
RECORD=${RECORD:-1}
PROFILE=${PROFILE:-0}
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
command -v perf >/dev/null || { echo "scale-timeline: perf is not installed" >&2; exit 2; }
need_root scale-timeline "needs root (perf on another process's thread, system-wide tracepoints)"
need_native_word scale-timeline "$NCLI" bench-many
export JQB_LOG_LEVEL=${JQB_LOG_LEVEL:-warn}
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-scale-timeline"
raise_fd_limit

start_work scale-timeline
declare -A SVC
SVC_PREFIX=jqbstl

names=(native)
keys=(n)
tids=()
start_service n taskset -c "$CPU_SERVER" "$NSRV" --transport "$TRANSPORT"
tids[0]=${pids[-1]}
i=0
for entry in "${builds[@]}"; do
    i=$((i + 1))
    b=${entry%@*}
    wait_args=()
    [ "$b" != "$entry" ] && wait_args=(--wait "${entry##*@}")
    b=$(cd "$b" && pwd)
    names[$i]="$i:$(basename "$b")${wait_args[1]:+@${wait_args[1]}}"
    keys[$i]=j$i
    start_service "j$i" taskset -c "$CPU_SERVER" "$b/bin/jqb" echo-server --transport "$TRANSPORT" "${wait_args[@]}"
    jpid=${pids[-1]}
    # The JIT, as scale-ab.sh and scale-curve.sh warm it.
    "$NCLI" bench --service "${SVC[j$i]}" --count 20000 --size "$SIZE" --max "$MAX" --warmup 0 >/dev/null 2>&1
    for w in 100 "$CLIENTS"; do
        "$NCLI" bench-many --service "${SVC[j$i]}" --clients "$w" --duration-ms 1000 --warmup-ms 0 --size "$SIZE" \
            --max "$MAX" >/dev/null 2>&1
    done
    tids[$i]=$(ps -L -o tid=,comm= -p "$jpid" | awk '$2 ~ /^jqb-/ && $2 !~ /handshake/ { print $1; exit }')
    if [ -z "${tids[$i]}" ]; then
        echo "scale-timeline: no jqb-* loop thread in $b's echo server (pid $jpid): cannot attach perf to its loop" >&2
        exit 1
    fi
done

# cpu_line CPU: "user nice system idle iowait irq softirq steal" jiffies of one CPU.
cpu_line() { awk -v c="cpu$1" '$1 == c { print $2, $3, $4, $5, $6, $7, $8, $9 }' /proc/stat; }
halts() { cat /sys/devices/system/cpu/cpu"$1"/cpuidle/state*/usage 2>/dev/null | awk '{ n += $1 } END { print n + 0 }'; }
# stat_count FILE EVENT [CPU]: a count from `perf stat -x,` output (per-CPU lines start with CPUn).
stat_count() {
    if [ $# -eq 3 ]; then
        awk -F, -v e="$2" -v c="CPU$3" '$1 == c && $4 == e { print $2 + 0; exit }' "$1"
    else
        awk -F, -v e="$2" '$3 == e { print $1 + 0; exit }' "$1"
    fi
}
per_rt() { awk -v a="$1" -v r="$2" -v w="$WINDOW_MS" 'BEGIN { rt = r * w / 1000.0; printf "%.5f", (rt > 0 ? a / rt : 0) }'; }
many() { # service duration_ms: one bench-many run on the client CPU; prints its result line
    taskset -c "$CPU_CLIENT" "$NCLI" bench-many --service "$1" --clients "$CLIENTS" --duration-ms "$2" \
        --warmup-ms "$WARMUP_MS" --size "$SIZE" --max "$MAX" 2>"$work/client.err" | grep '^clients='
}

# profile_buckets CPU RATE PREFIX: `perf script -F cpu,ip,sym` on stdin -> PREFIX and µs per round trip by bucket.
profile_buckets() {
    awk -v want="$1" -v rate="$2" -v hz=4000 -v pre="$3" '
    function flush() {
        if (cpu == want) {
            n++; b = "kernel"
            if (st ~ /;do_idle/) b = "idle"
            else if (st ~ /sock_def_readable/) b = "wake_loop"
            else if (st ~ /unix_stream_sendmsg/) b = "sendto"
            else if (st ~ /futex_wake/) b = "futex_wake"
            else if (st ~ /futex_wait/ && st ~ /__schedule/) b = "futex_wait_switch"
            else if (st ~ /futex_wait/) b = "futex_wait"
            else if (st ~ /epoll_wait/ && st ~ /__schedule/) b = "epoll_wait_switch"
            else if (st ~ /epoll_wait/) b = "epoll_wait"
            else if (st ~ /unix_stream_recvmsg|recvfrom/) b = "recvfrom"
            else if (st ~ /asm_sysvec|sysvec_/) b = "irq"
            else if (st !~ /entry_SYSCALL|asm_exc|ret_from_fork|schedule/) b = "user"
            c[b]++
        }
        cpu = ""; st = ""
    }
    /^\[/ { flush(); cpu = substr($1, 2, 3) + 0; next }
    /^[ \t]+[0-9a-f]+ / { st = st ";" $2; next }
    END {
        flush(); out = pre
        split("idle wake_loop sendto futex_wake futex_wait_switch futex_wait epoll_wait_switch epoll_wait recvfrom irq user kernel", k, " ")
        for (i = 1; i <= 12; i++) out = out sprintf(" %s=%.3f", k[i], (rate > 0 ? c[k[i]] / hz / rate * 1e6 : 0))
        print out
    }'
}

n=${#names[@]}
window_s=$(awk -v w="$WINDOW_MS" 'BEGIN { printf "%.3f", w / 1000 }')
echo "== $CLIENTS clients, $TRANSPORT, $SIZE B; counts over ${WINDOW_MS} ms of each ${DURATION_MS} ms run; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
    for k in $(seq 0 $((n - 1))); do
        s=$(( (k + r) % n ))
        key=${keys[$s]}
        tid=${tids[$s]}
        many "${SVC[$key]}" "$DURATION_MS" >"$work/line" &
        cp=$!
        sleep "$(awk -v w="$WARMUP_MS" 'BEGIN { printf "%.3f", (w + 100) / 1000 }')" # into the measured window
        s0=$(cpu_line "$CPU_SERVER"); c0=$(cpu_line "$CPU_CLIENT"); h0s=$(halts "$CPU_SERVER"); h0c=$(halts "$CPU_CLIENT")
        perf stat -x, -o "$work/loop.csv" -t "$tid" -e task-clock,context-switches,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_recvfrom,syscalls:sys_enter_futex,syscalls:sys_enter_sendto -- sleep "$window_s" 2>"$work/perf-loop.err" &
        lp=$!
        perf stat -x, -o "$work/cpus.csv" -a -A -e sched:sched_waking,ipi:ipi_send_cpu,ipi:ipi_send_cpumask -- sleep "$window_s" 2>"$work/perf-cpus.err" ||
            { echo "scale-timeline: perf stat -a failed:" >&2; tail -3 "$work/perf-cpus.err" >&2; }
        wait "$lp" || { echo "scale-timeline: perf stat -t $tid failed:" >&2; tail -3 "$work/perf-loop.err" >&2; }
        s1=$(cpu_line "$CPU_SERVER"); c1=$(cpu_line "$CPU_CLIENT"); h1s=$(halts "$CPU_SERVER"); h1c=$(halts "$CPU_CLIENT")
        wait "$cp"
        line=$(cat "$work/line")
        if [ -z "$line" ]; then
            echo "scale-timeline: run against ${names[$s]} failed:" >&2
            tail -3 "$work/client.err" >&2
            continue
        fi
        rate=$(field "$line" rtt_per_s)
        busy() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); t = 0
            for (i = 1; i <= 8; i++) { d[i] = y[i] - x[i]; t += d[i] }
            if (t <= 0) t = 1
            printf "%.0f/%.0f/%.0f/%.0f", 100 * (d[1] + d[2]) / t, 100 * (d[3] + d[6] + d[7]) / t, 100 * (d[4] + d[5]) / t,
                100 * d[8] / t }'; }
        # µs of a CPU's busy time (user + system) per round trip: its busy share of the window / the rate.
        busy_us() { awk -v a="$1" -v b="$2" -v r="$rate" 'BEGIN { split(a, x, " "); split(b, y, " "); u = 0; t = 0
            for (i = 1; i <= 8; i++) { d = y[i] - x[i]; t += d; if (i != 4 && i != 5 && i != 8) u += d }
            printf "%.2f", (r > 0 && t > 0 ? u / t * 1e6 / r : 0) }'; }
        ipis() { echo $(( $(stat_count "$work/cpus.csv" ipi:ipi_send_cpu "$1") + $(stat_count "$work/cpus.csv" ipi:ipi_send_cpumask "$1") )); }
        out="round=$r server=${names[$s]} rtt_per_s=$rate p99_ns=$(field "$line" p99_ns)"
        out="$out loop_cpu_us=$(per_rt "$(stat_count "$work/loop.csv" task-clock)" "$rate" | awk '{ printf "%.2f", $1 * 1000 }')"
        out="$out loop_cs=$(per_rt "$(stat_count "$work/loop.csv" context-switches)" "$rate")"
        for sc in epoll_wait recvfrom futex sendto; do
            out="$out $sc=$(per_rt "$(stat_count "$work/loop.csv" "syscalls:sys_enter_$sc")" "$rate")"
        done
        out="$out waking_srv=$(per_rt "$(stat_count "$work/cpus.csv" sched:sched_waking "$CPU_SERVER")" "$rate")"
        out="$out waking_cli=$(per_rt "$(stat_count "$work/cpus.csv" sched:sched_waking "$CPU_CLIENT")" "$rate")"
        out="$out ipi_srv=$(per_rt "$(ipis "$CPU_SERVER")" "$rate") ipi_cli=$(per_rt "$(ipis "$CPU_CLIENT")" "$rate")"
        out="$out halts_srv=$(per_rt $((h1s - h0s)) "$rate") halts_cli=$(per_rt $((h1c - h0c)) "$rate")"
        out="$out busy_srv=$(busy "$s0" "$s1") busy_cli=$(busy "$c0" "$c1")"
        out="$out srv_cpu_us=$(busy_us "$s0" "$s1") cli_cpu_us=$(busy_us "$c0" "$c1")"
        echo "$out" | tee -a "$work/results"
        if [ "$RECORD" = 1 ]; then
            many "${SVC[$key]}" $((WARMUP_MS + 600)) >/dev/null &
            cp=$!
            sleep "$(awk -v w="$WARMUP_MS" 'BEGIN { printf "%.3f", (w + 100) / 1000 }')"
            perf record -q -o "$work/rec.data" -t "$tid" -e syscalls:sys_exit_epoll_wait,syscalls:sys_exit_recvfrom \
                -e sched:sched_switch -- sleep 0.3 >"$work/rec.err" 2>&1 || cat "$work/rec.err" >&2
            wait "$cp"
            # Per epoll_wait: ready fds, and whether the loop slept in it (a switch away from the loop thread
            # between two epoll_wait returns); per recvfrom: bytes.
            perf script -i "$work/rec.data" -F event,trace 2>/dev/null | awk -v who="round=$r server=${names[$s]}" '
                function hex(x,  i, v) { sub(/^0x/, "", x); v = 0
                    for (i = 1; i <= length(x); i++) v = v * 16 + index("0123456789abcdef", substr(tolower(x), i, 1)) - 1
                    return v }
                /sys_exit_epoll_wait/ { n = hex($NF); ep++; ev += n
                    if (n == 0) zero++; if (slept) sl++; slept = 0; next }
                /sched_switch/ { slept = 1; next }
                /sys_exit_recvfrom/ { n = hex($NF); if (n > 0 && n < 65536) { rc++; by += n } }
                END { printf "%s record: epoll_waits=%d fds_per_epoll_wait=%.2f empty_epoll_waits=%.3f slept_in=%.3f" \
                    " recvfrom=%d bytes_per_recvfrom=%.2f\n", who, ep, (ep ? ev / ep : 0), (ep ? zero / ep : 0),
                    (ep ? sl / ep : 0), rc, (rc ? by / rc : 0) }' | tee -a "$work/records"
        fi
        if [ "$PROFILE" = 1 ]; then
            many "${SVC[$key]}" $((WARMUP_MS + WINDOW_MS + 400)) >"$work/pline" &
            cp=$!
            sleep "$(awk -v w="$WARMUP_MS" 'BEGIN { printf "%.3f", (w + 100) / 1000 }')"
            perf record -q -a -g -e cpu-clock -F 4000 -o "$work/prof.data" -- sleep "$window_s" >"$work/rec.err" 2>&1 ||
                cat "$work/rec.err" >&2
            wait "$cp"
            prate=$(field "$(cat "$work/pline")" rtt_per_s)
            for c in "$CPU_SERVER" "$CPU_CLIENT"; do
                perf script -i "$work/prof.data" -F cpu,ip,sym 2>/dev/null | profile_buckets "$c" "$prate" \
                    "round=$r server=${names[$s]} profile_cpu=$c rtt_per_s=$prate" | tee -a "$work/profiles"
            done
        fi
    done
done

echo "== medians over $ROUNDS rounds"
for s in $(seq 0 $((n - 1))); do
    pat="server=${names[$s]} "
    out="${names[$s]}"
    for key in rtt_per_s loop_cpu_us loop_cs epoll_wait recvfrom futex waking_srv waking_cli ipi_srv ipi_cli halts_srv halts_cli \
        srv_cpu_us cli_cpu_us; do
        out="$out $key=$(grep -F "$pat" "$work/results" | while read -r l; do field "$l" "$key"; done | median)"
    done
    echo "$out"
    if [ "$RECORD" = 1 ]; then
        out="${names[$s]}"
        for key in fds_per_epoll_wait empty_epoll_waits slept_in bytes_per_recvfrom; do
            out="$out $key=$(grep -F "$pat" "$work/records" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^epoll_waits=/ && substr($i, 13) + 0 >= 1000) print }' | while read -r l; do field "$l" "$key"; done | median)"
        done
        echo "$out"
    fi
done
if [ "$PROFILE" = 1 ]; then
    echo "== profile medians, µs per round trip"
    for s in $(seq 0 $((n - 1))); do
        for c in "$CPU_SERVER" "$CPU_CLIENT"; do
            pat="server=${names[$s]} profile_cpu=$c "
            out="${names[$s]} cpu=$c"
            for key in idle wake_loop sendto futex_wake futex_wait_switch futex_wait epoll_wait_switch epoll_wait recvfrom \
                irq user kernel; do
                out="$out $key=$(grep -F "$pat" "$work/profiles" | while read -r l; do field "$l" "$key"; done | median)"
            done
            echo "$out"
        done
    done
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

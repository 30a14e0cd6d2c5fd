#!/usr/bin/env bash
# libqb's client (qbn-client) and a jqb client, both pipelining against ONE native libqb server (qbn-server), all
# three on one vCPU (the pinned cell), taking turns: each client is stopped (SIGSTOP) while the other runs, switching
# every PERIOD seconds, so both are measured in the same minutes of this VM (whose speed moves by +-30 % from one
# minute to the next) and both against the same warm server. perf stat -I 250 per thread; a 250 ms window in which
# only one client sent anything is that client's. Per request, medians over the windows: msgs/s, the server's and
# the sending thread's CPU, context switches, the server's FUTEX_WAKE calls (sem_post finding a registered waiter)
# and the client's futex waits. With SCHED=1, also one 0.5 s perf record of the vCPU's scheduler events in the
# middle of each client's run, cut into run slices: requests sent per client slice (1 = the server's post preempted
# it: ping-pong; the window = it ran after the server had served everything: batch) and microseconds per slice.
#
# Requests are counted as the clients' doorbell sendto calls: one per request for both clients only while the window
# is below the jqb client's doorbell-hold threshold (16), i.e. SIZE >= ~3.8 KiB with the 64 KiB buffer used here.
#
# Usage: benchmarks/pipeline-slices.sh [BUILD_DIR]   (a build: a checkout with `make` done; default: this)
# Knobs: SIZE (4096), PERIOD (1), CYCLES (12), SETTLE (6: seconds the jqb client runs alone first, JIT and warm-up),
# CPU (0), SCHED (0), KEEP (a directory to copy the raw perf files to). Needs root (perf tracepoints) and python3.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/lib.sh"

build=${1:-$root}
SIZE=${SIZE:-4096}
PERIOD=${PERIOD:-1}
CYCLES=${CYCLES:-12}
SETTLE=${SETTLE:-6}
CPU=${CPU:-0}
SCHED=${SCHED:-0}
MAX=65576
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
export JQB_LOG_LEVEL=warn
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-pipeline-slices"
command -v perf >/dev/null || { echo "pipeline-slices: perf is not installed" >&2; exit 1; }
window=$((MAX / (8 + ((24 + SIZE + 3) & ~3)) - 1))
[ "$window" -lt 16 ] || echo "pipeline-slices: window $window >= 16: the jqb client batches doorbells, sendto is not requests" >&2

start_work pipeline-slices
declare -A SVC
SVC_PREFIX=jqbpsl
start_service n taskset -c "$CPU" "$NSRV" --transport shm
spid=${pids[-1]}
taskset -c "$CPU" "$build/bin/jqb" bench --service "${SVC[n]}" --count 2000000000 --size "$SIZE" --max "$MAX" \
    --warmup 20000 --pipeline >"$work/j.out" 2>&1 &
jpid=$!
pids+=("$jpid")
taskset -c "$CPU" "$NCLI" bench --service "${SVC[n]}" --count 2000000000 --size "$SIZE" --max "$MAX" \
    --warmup 20000 --pipeline >"$work/n.out" 2>&1 &
npid=$!
pids+=("$npid")
sleep 0.3 # connected, its blocking warm-up begun (perf names a thread by its command when it attaches)
kill -STOP "$npid"
sleep "$SETTLE"
perf stat -I 250 --per-thread -p "$spid,$jpid,$npid" -x, -o "$work/stat.csv" \
    -e task-clock,context-switches,syscalls:sys_enter_sendto \
    -e syscalls:sys_enter_futex --filter 'op == 1' -e syscalls:sys_enter_futex --filter 'op != 1' &
perfpid=$!
sleep 0.5

phase() { # RUN STOP [RECORD]: client RUN runs alone for PERIOD s (its scheduler events recorded to RECORD.data)
    local run=$1 stop=$2 rec=$3
    kill -STOP "$stop"
    kill -CONT "$run"
    if [ -n "$rec" ]; then
        sleep "$(awk -v p="$PERIOD" 'BEGIN { print (p - 0.5) / 2 }')"
        perf record -q -o "$work/$rec.data" -C "$CPU" -e sched:sched_switch,sched:sched_wakeup \
            -e syscalls:sys_enter_sendto,syscalls:sys_enter_futex -- sleep 0.5 >/dev/null 2>&1
        sleep "$(awk -v p="$PERIOD" 'BEGIN { print (p - 0.5) / 2 }')"
    else
        sleep "$PERIOD"
    fi
}
for c in $(seq 1 "$CYCLES"); do
    rn=""
    rj=""
    if [ "$SCHED" = 1 ] && [ "$c" = $(((CYCLES + 1) / 2)) ]; then
        rn=sched-n
        rj=sched-j
    fi
    phase "$npid" "$jpid" "$rn"
    phase "$jpid" "$npid" "$rj"
done
kill -INT "$perfpid"
wait "$perfpid" 2>/dev/null
[ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$work"/*.csv "$work"/*.data "$work"/*.out "$KEEP"/ 2>/dev/null

echo "size=$SIZE window=$window period=${PERIOD}s cycles=$CYCLES cpu=$CPU build=$build (per request; medians of the 250 ms windows)"
python3 - "$work/stat.csv" "$spid" "$npid" <<'PY'
import csv, collections, statistics, sys
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for r in csv.reader(open(sys.argv[1])):
    if len(r) < 5 or r[0].startswith('#'):
        continue
    try:
        v = float(r[2])
    except ValueError:
        v = 0.0
    rows[r[0]][r[1]].append(v)  # events in the order given: cpu ms, cs, sendto, futex wake, futex other
res = {'n': [], 'j': []}
for t in sorted(rows, key=float):
    d = rows[t]
    srv = [k for k in d if k.endswith('-' + sys.argv[2])]
    owner = lambda k: 'n' if k.endswith('-' + sys.argv[3]) else 'j'  # threads of the server, libqb's client, the JVM
    sent = {w: sum(d[k][2] for k in d if k not in srv and owner(k) == w and len(d[k]) == 5) for w in 'nj'}
    if not srv or (sent['n'] > 0) == (sent['j'] > 0):
        continue  # the switch-over, or nobody
    who = 'n' if sent['n'] > 0 else 'j'
    req = sent[who]
    cli = max((d[k] for k in d if k not in srv and owner(k) == who and len(d[k]) == 5), key=lambda x: x[2])
    s = d[srv[0]]
    res[who].append((4 * req, 1000 * s[0] / req, 1000 * cli[0] / req, s[1] / req, s[3] / req, cli[4] / req))
names = {'n': 'libqb client', 'j': 'jqb client  '}
for who in 'nj':
    x = res[who]
    if not x:
        continue
    m = [statistics.median(v[i] for v in x) for i in range(6)]
    print('%s windows=%d msgs_per_s=%.0f server_us=%.3f client_us=%.3f sum_us=%.3f server_cs=%.4f '
          'server_futex_wake=%.3f client_futex_wait=%.3f' % (names[who], len(x), m[0], m[1], m[2], m[1] + m[2], m[3], m[4], m[5]))
if res['n'] and res['j']:
    print('jqb / libqb msgs/s (medians): %.3f' % (statistics.median(v[0] for v in res['j'])
                                                / statistics.median(v[0] for v in res['n'])))
PY

slices() { # FILE LABEL: the run slices of one perf record
    perf script -i "$1" -F comm,tid,cpu,time,event,trace 2>/dev/null | python3 -c '
import collections, re, sys
label = sys.argv[1]
name = lambda c: "client" if c in ("java", "qbn-client") else ("server" if c.startswith("qbn-server") else "other")
cur = None; n = collections.Counter(); since = 0.0; sl = collections.defaultdict(list); t0 = t1 = None
for line in sys.stdin:
    m = re.match(r"\s*(\S.*?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)", line)
    if not m:
        continue
    comm, tid, cpu, t, ev, tr = m.groups(); t = float(t)
    t0 = t if t0 is None else t0; t1 = t
    if ev == "sched:sched_switch":
        d = dict(re.findall(r"(\w+)=(\S+)", tr))
        if cur is not None and name(d["next_comm"]) != "other" and cur != "other":
            sl[cur].append((t - since, n["sendto"], n["futex"], d["prev_state"]))
        cur = name(d["next_comm"]); since = t; n = collections.Counter()
    elif "sendto" in ev:
        n["sendto"] += 1
    elif "futex" in ev:
        n["futex"] += 1
req = sum(s[1] for s in sl["client"])
if not req:
    sys.exit(0)
cl = sl["client"]
one = [s for s in cl if s[1] == 1]
many = [s for s in cl if s[1] > 1]
sw = len(cl) + len(sl["server"])
mean = lambda x: 1e6 * sum(s[0] for s in x) / len(x) if x else 0.0
print("%s: %.2f s, %d requests, switches/request %.3f; client slices: %d with 1 request (%.1f us), %d with more "
      "(%.1f requests, %.1f us); requests in 1-request slices %.1f %%" % (label, t1 - t0, req, sw / req, len(one),
      mean(one), len(many), sum(s[1] for s in many) / max(1, len(many)), mean(many), 100.0 * len(one) / req))
' "$2"
}
if [ "$SCHED" = 1 ]; then
    [ -f "$work/sched-n.data" ] && slices "$work/sched-n.data" "libqb client"
    [ -f "$work/sched-j.data" ] && slices "$work/sched-j.data" "jqb client  "
fi

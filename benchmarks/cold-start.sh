#!/usr/bin/env bash
# `make bench-cold`: what a short-lived client pays before it is fast. A fresh client process connects and does
# COLD_COUNT blocking 64 B echo round trips with no warm-up (`bench --warmup 0 --cold`); the native client
# (`qbn-client`) against `bin/jqb` under several launcher settings, rounds interleaved, against the same server.
# The client runs on vCPU CPU_CLIENT alone (taskset), so the JIT's compiler threads share that vCPU with it, as in a
# container limited to one CPU; the server on CPU_SERVER.
#
# Figures per run: time to first round trip = from the moment the script starts the client process (bash's
# $EPOCHREALTIME just before exec) to the first echo received (the client's CLOCK_REALTIME, `first_epoch_ns`);
# total = the whole timed loop of COLD_COUNT round trips (after connect); the process's wall time; and for jqb the
# time from process start to main() entered (`main_epoch_ns`: the JVM's own start-up) and from there to the first
# round trip (jqb's own share).
#
# Writes a Markdown section; run alone it splices it into docs/PERFORMANCE.md between <!-- cold-start:begin -->
# and <!-- cold-start:end -->; bench-compare.sh calls it with SECTION_OUT.
# Knobs: COLD_COUNT (10000), COLD_ROUNDS (5), COLD_TRANSPORT (shm), COLD_SERVER (native|jqb, native),
# CPU_SERVER (0), CPU_CLIENT (1), SECTION_OUT, OUT (docs/PERFORMANCE.md), COMMANDS (append the commands run),
# COLD_VARIANTS (the variants to run instead of the default list below, one per line in the same format, "native||"
# first; e.g. an A/B of two builds: the 4th field names another build's bin/jqb).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib.sh
. "$root/benchmarks/lib.sh"

COLD_COUNT=${COLD_COUNT:-10000}
COLD_ROUNDS=${COLD_ROUNDS:-5}
COLD_TRANSPORT=${COLD_TRANSPORT:-shm}
COLD_SERVER=${COLD_SERVER:-native}
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
OUT=${OUT:-docs/PERFORMANCE.md}
case "$OUT" in /*) out_path=$OUT ;; *) out_path="$root/$OUT" ;; esac
SECTION_OUT=${SECTION_OUT:-}
COMMANDS=${COMMANDS:-}

JQB="$root/bin/jqb"
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
export JQB_LOG_LEVEL=${JQB_LOG_LEVEL:-warn}
base_opts="${JQB_JAVA_OPTS:-}"
case "$base_opts" in
    *forceFilesystemSocketsFile*) ;;
    *) base_opts="$base_opts -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-bench-cold" ;;
esac

for f in "$JQB" "$NSRV" "$NCLI" "$root/target/jqb.jar"; do
    [ -e "$f" ] || { echo "cold-start: $f is missing; run 'make' first" >&2; exit 2; }
done
need_native_word cold-start "$NCLI" --cold

# name | environment (space-separated NAME=value, or empty: bin/jqb's defaults) | extra JVM options [| launcher, default
# this build's bin/jqb]. "native" is qbn-client.
VARIANTS=(
    "native||"
    "jqb (bin/jqb as shipped: AppCDS archive made once per build)||"
    "jqb JQB_CDS=0 (no AppCDS archive)|JQB_CDS=0|"
    "jqb JQB_CDS=0 -Djqb.libc=jnr (as before issue 14: jnr-ffi's run-time binding of libc, no archive)|JQB_CDS=0|-Djqb.libc=jnr"
    "jqb JQB_CDS=0 -Xshare:off (no class-data sharing at all)|JQB_CDS=0|-Xshare:off"
    "jqb -XX:TieredStopAtLevel=1 (C1 only)||-XX:TieredStopAtLevel=1"
    "jqb JQB_JIT_NICE=10 (the JIT compiler threads at nice 10)|JQB_JIT_NICE=10|"
)

if [ -n "${COLD_VARIANTS:-}" ]; then
    mapfile -t VARIANTS < <(printf '%s\n' "$COLD_VARIANTS" | grep -v '^[[:space:]]*$')
    if [ "${VARIANTS[0]:-}" != "native||" ]; then
        echo "cold-start: COLD_VARIANTS must start with the line 'native||' (the libqb baseline the ratios use)" >&2
        exit 2
    fi
fi

start_work cold-start
results="$work/cold.tsv" # variant-index round ttfr_ms connect_ms total_ms wall_ms p50_ns p99_ns main_ms
: >"$results"

svc="jqbcold-$$-$COLD_SERVER-$COLD_TRANSPORT"
if [ "$COLD_SERVER" = native ]; then
    scmd=(taskset -c "$CPU_SERVER" "$NSRV" --service "$svc" --transport "$COLD_TRANSPORT")
else
    scmd=(taskset -c "$CPU_SERVER" "$JQB" echo-server --service "$svc" --transport "$COLD_TRANSPORT")
fi
log_cmd "${scmd[*]} &"
JQB_JAVA_OPTS="$base_opts" "${scmd[@]}" >"$work/server.log" 2>"$work/server.log.err" </dev/null &
pids+=("$!")
wait_ready "$work/server.log" "$!" "the $COLD_SERVER server"
if [ "$COLD_SERVER" = jqb ]; then
    "$NCLI" bench --service "$svc" --count 20000 --warmup 0 >/dev/null 2>&1 # the server's JIT, not the client's
fi

# The AppCDS archive: `make` (bin/jqb-cds) made it; made here if missing or stale (bin/jqb never trains one itself).
log_cmd "bin/jqb-cds  # makes target/jqb-cds.jsa if missing or stale"
bash "$root/bin/jqb-cds"
[ -f "$root/target/jqb-cds.jsa" ] || echo "cold-start: no AppCDS archive (target/jqb-cds.jsa); bin/jqb runs without it" >&2

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
for round in $(seq 1 "$COLD_ROUNDS"); do
    for i in "${!VARIANTS[@]}"; do
        IFS='|' read -r name venv opts launcher <<<"${VARIANTS[$i]}"
        if [ "$name" = native ]; then
            cmd=(taskset -c "$CPU_CLIENT" "$NCLI" bench --service "$svc" --count "$COLD_COUNT" --warmup 0 --cold)
            envs=()
        else
            cmd=(taskset -c "$CPU_CLIENT" "${launcher:-$JQB}" bench --service "$svc" --count "$COLD_COUNT" --warmup 0 --cold)
            # shellcheck disable=SC2206 # NAME=value words
            envs=($venv JQB_JAVA_OPTS="$base_opts $opts")
        fi
        [ "$round" = 1 ] && log_cmd "$( [ ${#envs[@]} -gt 0 ] && printf '%q ' "${envs[@]}")${cmd[*]}"
        launch=${EPOCHREALTIME/./}
        out=$(env "${envs[@]}" "${cmd[@]}" 2>"$work/client.err")
        end=${EPOCHREALTIME/./}
        cold=$(echo "$out" | grep '^cold ' | tail -1)
        line=$(echo "$out" | grep '^size=' | tail -1)
        if [ -z "$cold" ]; then
            echo "cold-start: FAILED: ${envs[*]} ${cmd[*]}" >&2
            grep -v "WARNING" "$work/client.err" | tail -3 >&2
            continue
        fi
        first=$(field "$cold" first_epoch_ns)
        conn=$(field "$cold" connected_epoch_ns)
        total=$(field "$cold" total_ns)
        main=$(field "$cold" main_epoch_ns)
        awk -v i="$i" -v r="$round" -v l="$launch" -v f="$first" -v c="$conn" -v t="$total" -v e="$end" \
            -v m="${main:--}" -v p50="$(field "$line" p50_ns)" -v p99="$(field "$line" p99_ns)" 'BEGIN {
            printf "%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\n", i, r, (f / 1000.0 - l) / 1000.0,
                (c / 1000.0 - l) / 1000.0, t / 1e6, (e - l) / 1000.0, p50, p99,
                m == "-" ? "-" : sprintf("%.2f", (m / 1000.0 - l) / 1000.0) }' >>"$results"
        printf '  cold round %d  %-52s %s\n' "$round" "$name" "$(tail -1 "$results" | cut -f3-)"
    done
done
elapsed=$(( $(date +%s) - t0 ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
for p in "${pids[@]}"; do stop_pid "$p"; done
pids=()

col() { # variant-index column -> median
    awk -F'\t' -v i="$1" -v c="$2" '$1 == i { print $c }' "$results" | median
}

section="$work/section.md"
{
    echo "### Cold start: a fresh client process, $COLD_COUNT round trips, no warm-up"
    echo
    echo "\`benchmarks/cold-start.sh\` (\`make bench-cold\`; part of \`make bench-compare\`), $started, load average"
    echo "before $load_before, after $load_after, ${elapsed} s. Server: $COLD_SERVER ($(echo "$COLD_TRANSPORT" | tr a-z A-Z)) on vCPU"
    echo "$CPU_SERVER; each client a new process on vCPU $CPU_CLIENT only (\`taskset\`: the JVM then sees one CPU, its JIT"
    echo "compiler threads share it with the client, and it picks SerialGC), \`bench --count $COLD_COUNT --warmup 0 --cold\`,"
    echo "64 B echo. Medians of $COLD_ROUNDS rounds; in each round every variant runs once, in the order below."
    echo "*first RT*: process start (exec) to the first echo received, JVM start-up and connect included;"
    echo "*main*: process start to the JVM entering \`main\` (the JVM's own start-up, which no library can shorten);"
    echo "*first RT from main*: \`main\` entered to the first echo received (jqb's own share: class loading, binding"
    echo "libc, connect, the first round trip); *connect*: process start to connected; *$COLD_COUNT RTs*: the timed loop of"
    echo "the first $COLD_COUNT round trips; *wall*: the whole process, exit included."
    echo
    echo "| client | first RT ms | × native | main ms | first RT from main ms | connect ms | $COLD_COUNT RTs ms | × native | p99 µs | wall ms |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    nf=$(col 0 3)
    nt=$(col 0 5)
    for i in "${!VARIANTS[@]}"; do
        IFS='|' read -r name _ _ <<<"${VARIANTS[$i]}"
        f=$(col "$i" 3)
        c=$(col "$i" 4)
        t=$(col "$i" 5)
        w=$(col "$i" 6)
        p99=$(col "$i" 8)
        m=$(col "$i" 9)
        fm=$(awk -F'\t' -v i="$i" '$1 == i { print ($9 == "-" || $9 == "") ? "-" : $3 - $9 }' "$results" | median)
        awk -v n="$name" -v f="$f" -v c="$c" -v t="$t" -v w="$w" -v p="$p99" -v nf="$nf" -v nt="$nt" -v m="$m" \
            -v fm="$fm" '
            function r(x, y) { return (x == "-" || y == "-" || y == 0) ? "-" : sprintf("%.2f", x / y) }
            function v(x) { return (x == "-" || x == "") ? "-" : sprintf("%.1f", x) }
            BEGIN { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, v(f), r(f, nf), v(m), v(fm), v(c),
                v(t), r(t, nt), p == "-" ? "-" : sprintf("%.1f", p / 1000.0), v(w) }'
    done
} >"$section"

if [ -n "$SECTION_OUT" ]; then
    cp "$section" "$SECTION_OUT"
else
    splice_section "$out_path" cold-start "$section"
    echo "cold-start: written to $OUT"
fi
cat "$section"

#!/usr/bin/env bash
# `make bench-scale`: the scale curve. Aggregate echo round trips per second and latency percentiles with 1, 10,
# 100 and 1,000 concurrent clients against the jqb server and against the native libqb server, same client
# program (`qbn-client bench-many`: one thread and one connection per client, blocking round trips), same run,
# SHM and SOCKET; the server's RSS and thread count while every connection is open.
#
# Writes a Markdown section (table + chart link) and the chart (SVG, gnuplot; Debian's gnuplot-nox is installed
# when missing). Run alone, it splices the section into docs/PERFORMANCE.md between <!-- scale-curve:begin -->
# and <!-- scale-curve:end -->; bench-compare.sh calls it with SECTION_OUT to include the section itself.
#
# Every point is measured SCALE_ROUNDS times, native and jqb alternating within each round (the order flips every
# run), because the machine's speed drifts; the table gives medians, and the ratio is the median of the per-round
# ratios. Each run also gives the server's CPU time per round trip (utime + stime from /proc/PID/stat over the run):
# when it approaches the clients' share, the server is what limits the throughput.
#
# Knobs (environment): SCALE_CLIENTS ("1 10 100 1000"), SCALE_ROUNDS (3), SCALE_DURATION_MS (measured time per run, 2000),
# SCALE_WARMUP_MS (500), SCALE_SIZE (payload, 64), SCALE_MAX (buffer size asked for, 8192),
# SCALE_TRANSPORTS ("shm socket"), SCALE_SPIN_WAIT (phased:30:0: the wait strategy of the third server, "jqb spin", a
# jqb server whose loop spins that long before it sleeps; empty = no such server), CPU_SERVER (0), CPU_CLIENT (1), CHART_FORMAT (svg|png), SECTION_OUT (write the section there instead of
# splicing it into OUT), OUT (docs/PERFORMANCE.md), CHART (scale-curve.svg next to OUT), COMMANDS (append the commands
# run to this file).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib.sh
. "$root/benchmarks/lib.sh"

SCALE_CLIENTS=${SCALE_CLIENTS:-"1 10 100 1000"}
SCALE_ROUNDS=${SCALE_ROUNDS:-3}
SCALE_DURATION_MS=${SCALE_DURATION_MS:-2000}
SCALE_WARMUP_MS=${SCALE_WARMUP_MS:-500}
SCALE_SIZE=${SCALE_SIZE:-64}
SCALE_MAX=${SCALE_MAX:-8192}
SCALE_TRANSPORTS=${SCALE_TRANSPORTS:-"shm socket"}
SCALE_SPIN_WAIT=${SCALE_SPIN_WAIT-phased:30:0}
jqb_servers="jqb"
[ -n "$SCALE_SPIN_WAIT" ] && jqb_servers="jqb jqbspin"
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
OUT=${OUT:-docs/PERFORMANCE.md}
case "$OUT" in /*) out_path=$OUT ;; *) out_path="$root/$OUT" ;; esac
CHART=${CHART:-$(dirname "$out_path")/scale-curve.svg}
case "$CHART" in /*) chart_path=$CHART ;; *) chart_path="$root/$CHART" ;; esac
SECTION_OUT=${SECTION_OUT:-}
COMMANDS=${COMMANDS:-}

JQB="$root/bin/jqb"
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
export JQB_LOG_LEVEL=${JQB_LOG_LEVEL:-warn}
case "${JQB_JAVA_OPTS:-}" in
    *forceFilesystemSocketsFile*) ;;
    *) export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-bench-scale" ;;
esac

for f in "$JQB" "$NSRV" "$NCLI" "$root/target/jqb.jar"; do
    [ -e "$f" ] || { echo "scale-curve: $f is missing; run 'make' first" >&2; exit 2; }
done
need_native_word scale-curve "$NCLI" bench-many

# Each connection holds a few descriptors on both ends (setup socket; SOCKET: data sockets): raise the soft limit.
max_clients=0
for n in $SCALE_CLIENTS; do [ "$n" -gt "$max_clients" ] && max_clients=$n; done
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((max_clients * 4 + 256)) ]; then
    echo "scale-curve: the hard fd limit ($hard) is too low for $max_clients clients (needs ~$((max_clients * 4 + 256)))" >&2
    exit 2
fi
ulimit -n "$hard" 2>/dev/null || ulimit -n $((max_clients * 4 + 256))

start_work scale-curve
runs="$work/runs.tsv"       # transport clients server rtt_per_s p50 p99 p999 rss_kb idle_rss_kb threads idle_threads connect_s round cpu_us_per_rt
results="$work/scale.tsv"   # the same columns, medians over the rounds; then the median per-round ratio to native of rt/s, p99
: >"$runs"
: >"$results"
tck=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }


declare -A SVC PID
start() { # impl transport
    local impl=$1 t=$2 svc="jqbscale-$$-$1-$2" log="$work/server-$1-$2.log" cmd
    if [ "$impl" = native ]; then
        cmd=(taskset -c "$CPU_SERVER" "$NSRV" --service "$svc" --transport "$t")
    elif [ "$impl" = jqbspin ]; then
        cmd=(taskset -c "$CPU_SERVER" "$JQB" echo-server --service "$svc" --transport "$t" --wait "$SCALE_SPIN_WAIT")
    else
        cmd=(taskset -c "$CPU_SERVER" "$JQB" echo-server --service "$svc" --transport "$t")
    fi
    log_cmd "${cmd[*]} &"
    "${cmd[@]}" >"$log" 2>"$log.err" </dev/null &
    pids+=("$!")
    wait_ready "$log" "$!" "$impl server ($t)"
    SVC[$impl-$t]=$svc
    PID[$impl-$t]=$!
}

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
for t in $SCALE_TRANSPORTS; do
    start native "$t"
    for j in $jqb_servers; do
        start "$j" "$t"
        # The jqb server's JIT: single-connection round trips, then many connections at once.
        log_cmd "$NCLI bench --service ${SVC[$j-$t]} --count 20000 --size $SCALE_SIZE --max $SCALE_MAX --warmup 0  # warm-up"
        timeout 60 "$NCLI" bench --service "${SVC[$j-$t]}" --count 20000 --size "$SCALE_SIZE" --max "$SCALE_MAX" \
            --warmup 0 >/dev/null 2>&1 || echo "scale-curve: warm-up of $j-$t failed" >&2
        # Then every client count of the curve once: the paths that only many connections take (batches, hang-ups
        # of many clients at once, timers) otherwise meet their first uncommon trap inside a measured window, and
        # the loop runs deoptimised until the JIT has compiled it again (seconds on a busy machine).
        for n in 100 $SCALE_CLIENTS; do
            log_cmd "$NCLI bench-many --service ${SVC[$j-$t]} --clients $n --duration-ms 1000 --warmup-ms 0 --size $SCALE_SIZE --max $SCALE_MAX  # warm-up"
            timeout 120 "$NCLI" bench-many --service "${SVC[$j-$t]}" --clients "$n" --duration-ms 1000 --warmup-ms 0 \
                --size "$SCALE_SIZE" --max "$SCALE_MAX" >/dev/null 2>&1 || echo "scale-curve: warm-up of $j-$t failed" >&2
        done
    done
done

point_timeout=$(( (SCALE_DURATION_MS + SCALE_WARMUP_MS) / 1000 + 120 ))
flip=0
for n in $SCALE_CLIENTS; do
    for t in $SCALE_TRANSPORTS; do
        for round in $(seq 1 "$SCALE_ROUNDS"); do
            # Alternate which server goes first, so that a drift in the machine's speed does not favour one.
            if [ $flip -eq 0 ]; then order="native $jqb_servers"; else order="$(echo $jqb_servers | tr ' ' '\n' | tac | tr '\n' ' ')native"; fi
            flip=$((1 - flip))
            for srv in $order; do
                pid=${PID[$srv-$t]}
                idle_rss=$(proc_kb "$pid" VmRSS)
                idle_threads=$(proc_kb "$pid" Threads)
                cmd=(taskset -c "$CPU_CLIENT" "$NCLI" bench-many --service "${SVC[$srv-$t]}" --clients "$n"
                    --duration-ms "$SCALE_DURATION_MS" --warmup-ms "$SCALE_WARMUP_MS" --size "$SCALE_SIZE"
                    --max "$SCALE_MAX" --server-pid "$pid")
                [ "$round" = 1 ] && log_cmd "${cmd[*]}"
                c0=$(cpu_ticks "$pid")
                line=$(timeout "$point_timeout" "${cmd[@]}" 2>"$work/client.err" | grep '^clients=' | tail -1)
                c1=$(cpu_ticks "$pid")
                if [ -z "$line" ]; then
                    echo "scale-curve: FAILED: ${cmd[*]}" >&2
                    tail -3 "$work/client.err" >&2
                    continue
                fi
                # Server CPU over the whole client run (connects and warm-up included), per round trip of that
                # run estimated from the measured window's rate: an upper bound that the measured rate dominates.
                cpu_us=$(awk -v a="${c0:-0}" -v b="${c1:-0}" -v tk="$tck" -v r="$(field "$line" rtt_per_s)" \
                    -v d="$(( SCALE_DURATION_MS + SCALE_WARMUP_MS ))" 'BEGIN { rt = r * d / 1000.0;
                    if (rt > 0 && b >= a) printf "%.2f", (b - a) / tk * 1e6 / rt; else printf "-" }')
                printf '  scale %-6s %4s clients round %s -> %-6s  %s server_cpu_us_per_rt=%s\n' "$t" "$n" "$round" \
                    "$srv" "$line" "$cpu_us"
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$n" "$srv" \
                    "$(field "$line" rtt_per_s)" "$(field "$line" p50_ns)" "$(field "$line" p99_ns)" \
                    "$(field "$line" p999_ns)" "$(field "$line" server_rss_kb)" "${idle_rss:--}" \
                    "$(field "$line" server_threads)" "${idle_threads:--}" "$(field "$line" connect_s)" \
                    "$round" "$cpu_us" >>"$runs"
            done
        done
    done
done
# Medians per (transport, clients, server); the ratios to native are medians of each round's own ratio.
awk -F'\t' -v OFS='\t' '
    function med(key, c,    n, i, j, t, a) {
        n = 0
        for (i = 1; i <= cnt[key]; i++) { t = v[key, i, c]; if (t != "-" && t != "") a[++n] = t + 0 }
        if (n == 0) return "-"
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
        key = $1 SUBSEP $2 SUBSEP $3
        if (!(key in cnt)) { order[++nk] = key }
        i = ++cnt[key]
        for (c = 4; c <= 14; c++) v[key, i, c] = $c
        run[$1, $2, $3, $13] = $0
    }
    END {
        for (k = 1; k <= nk; k++) {
            key = order[k]; split(key, f, SUBSEP)
            line = f[1] OFS f[2] OFS f[3]
            for (c = 4; c <= 12; c++) line = line OFS med(key, c)
            line = line OFS med(key, 14)
            # per-round ratios to native (rt/s, p99)
            nr = 0; np = 0; delete rr; delete rp
            for (r = 1; r <= 1000; r++) {
                if (!((f[1], f[2], f[3], r) in run) || !((f[1], f[2], "native", r) in run)) continue
                split(run[f[1], f[2], f[3], r], x, "\t"); split(run[f[1], f[2], "native", r], y, "\t")
                if (x[4] != "-" && y[4] > 0) rr[++nr] = x[4] / y[4]
                if (x[6] != "-" && y[6] > 0) rp[++np] = x[6] / y[6]
            }
            line = line OFS mediana(rr, nr) OFS mediana(rp, np)
            print line
        }
    }
    function mediana(a, n,    i, j, t) {
        if (n == 0) return "-"
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }' "$runs" >"$results"
elapsed=$(( $(date +%s) - t0 ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
for p in "${pids[@]}"; do stop_pid "$p"; done
pids=()

# ---------------------------------------------------------------------------------------------- chart

chart_note=""
if ensure_gnuplot; then
    # One data file per transport: clients, then rt/s and p99 (µs) of native and of jqb.
    for t in $SCALE_TRANSPORTS; do
        awk -F'\t' -v t="$t" '$1 == t { k = $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
              r[k, $3] = $4; p[k, $3] = ($6 == "-" ? "-" : $6 / 1000.0) }
            END { for (i = 1; i <= n; i++) { k = order[i]
              printf "%s %s %s %s %s %s %s\n", k, r[k, "native"], r[k, "jqb"], p[k, "native"], p[k, "jqb"],
                ((k, "jqbspin") in r ? r[k, "jqbspin"] : "-"), ((k, "jqbspin") in p ? p[k, "jqbspin"] : "-") } }' \
            "$results" | sed 's/ - / NaN /g; s/ -$/ NaN/' >"$work/scale-$t.dat"
    done
    {
        if [ "${CHART_FORMAT:-svg}" = png ]; then
            echo "set terminal pngcairo size 1000,420 font 'sans,10'"
        else
            echo "set terminal svg size 1000,420 dynamic font 'sans,12' background rgb 'white'"
        fi
        echo "set output '$work/chart.svg'"
        echo "set datafile missing 'NaN'"
        echo "set multiplot layout 1,2 title 'jqb vs native libqb server: $SCALE_SIZE B echo, N concurrent native clients (blocking)'"
        echo "set logscale x; set grid; set key top left; set xlabel 'concurrent clients'"
        echo "set xrange [0.7:$((max_clients * 3 / 2))]"
        echo "set ylabel 'round trips / s (all clients)'; set format y '%.0s%c'; set yrange [0:*]"
        plot="plot"
        for t in $SCALE_TRANSPORTS; do
            T=$(echo "$t" | tr a-z A-Z)
            plot="$plot '$work/scale-$t.dat' using 1:2 with linespoints title 'native server, $T',"
            plot="$plot '$work/scale-$t.dat' using 1:3 with linespoints title 'jqb server, $T',"
            [ -n "$SCALE_SPIN_WAIT" ] &&
                plot="$plot '$work/scale-$t.dat' using 1:6 with linespoints dashtype 2 title 'jqb server ($SCALE_SPIN_WAIT), $T',"
        done
        echo "${plot%,}"
        echo "set logscale y; set ylabel 'p99 round trip (µs)'; set format y '%g'; set yrange [*:*]"
        plot="plot"
        for t in $SCALE_TRANSPORTS; do
            T=$(echo "$t" | tr a-z A-Z)
            plot="$plot '$work/scale-$t.dat' using 1:4 with linespoints title 'native server, $T',"
            plot="$plot '$work/scale-$t.dat' using 1:5 with linespoints title 'jqb server, $T',"
            [ -n "$SCALE_SPIN_WAIT" ] &&
                plot="$plot '$work/scale-$t.dat' using 1:7 with linespoints dashtype 2 title 'jqb server ($SCALE_SPIN_WAIT), $T',"
        done
        echo "${plot%,}"
        echo "unset multiplot"
    } >"$work/chart.gp"
    if gnuplot "$work/chart.gp" 2>"$work/gnuplot.err"; then
        cp "$work/chart.svg" "$chart_path"
    else
        chart_note="(gnuplot failed: $(head -1 "$work/gnuplot.err"))"
    fi
else
    chart_note="(no chart: gnuplot is not installed and could not be installed)"
fi

# ---------------------------------------------------------------------------------------------- section

section="$work/section.md"
{
    echo "### Scale curve: N concurrent clients"
    echo
    echo "\`benchmarks/scale-curve.sh\` (\`make bench-scale\`; part of \`make bench-compare\`), $started, load average"
    echo "before $load_before, after $load_after, ${elapsed} s. Clients: \`qbn-client bench-many\` (native libqb, one thread"
    echo "and one connection per client, blocking $SCALE_SIZE B echo round trips as fast as each can), all on vCPU"
    echo "$CPU_CLIENT; server on vCPU $CPU_SERVER; ${SCALE_WARMUP_MS} ms warm-up, then ${SCALE_DURATION_MS} ms measured; buffer size"
    echo "$SCALE_MAX. The jqb servers were warmed first (20,000 round trips, then 1 s with 100 clients and 1 s at every"
    echo "client count of the curve). Server RSS and"
    echo "threads: \`/proc/PID/status\` at the end of the measured window, with every connection open; Δ = that minus"
    echo "the idle server's figure just before the point, per connection. Latency is per round trip on every"
    echo "connection: with N clients sharing one vCPU, a round trip waits for the others. Only blocking clients: a"
    echo "spinning client per connection would only fight the others for the one client vCPU. *N connects*: the"
    echo "client's N connections made one after another before the run (\`connect_s\`). Each point is the median of"
    echo "$SCALE_ROUNDS runs per server, native and jqb alternating (the order flips every run); × native is the median"
    echo "of the per-round ratios. *Server CPU µs per RT*: the server's utime + stime (\`/proc/PID/stat\`) over the run"
    echo "divided by its round trips; near the clients' share of the two vCPUs, the server is the bottleneck."
    if [ -n "$SCALE_SPIN_WAIT" ]; then
        echo "*jqbspin*: the same jqb server with \`--wait $SCALE_SPIN_WAIT\` (its loop spins that many µs after its last"
        echo "event before it sleeps in \`epoll_wait\`, so a client's request rarely has to wake it: see the scale notes)."
    fi
    echo
    echo "| transport | clients | server | round trips/s | × native | p50 µs | p99 µs | p99 × native | server CPU µs per RT | server RSS MiB | Δ RSS per conn KiB | server threads (Δ per conn) | N connects s |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '
        function us(x) { return x == "-" ? "-" : sprintf("%.1f", x / 1000.0) }
        function r2(x) { return (x == "-" || x == "") ? "-" : sprintf("%.2f", x) }
        {
            rss = $8 == "-" ? "-" : sprintf("%.1f", $8 / 1024.0)
            d = ($8 == "-" || $9 == "-") ? "-" : sprintf("%.1f", ($8 - $9) / $2)
            th = $10 == "-" ? "-" : sprintf("%d (%.2f)", $10, ($10 - $11) / $2)
            nat = $3 == "native"
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", toupper($1), $2, $3,
              $4 == "-" ? "-" : sprintf("%d", $4), nat ? "1.00" : r2($14), us($5), us($6), nat ? "1.00" : r2($15),
              $13 == "-" ? "-" : sprintf("%.1f", $13), rss, d, th, $12 == "-" ? "-" : sprintf("%.3f", $12)
        }' <(sort -t"$(printf '\t')" -k1,1 -k2,2n -k3,3r "$results")
    echo
    if [ -z "$chart_note" ]; then
        chart_rel=$(realpath --relative-to="$(dirname "$out_path")" "$chart_path" 2>/dev/null || echo "$CHART")
        echo "![Scale curve: round trips/s and p99 against the number of concurrent clients]($chart_rel)"
    else
        echo "$chart_note"
    fi
} >"$section"

if [ -n "$SECTION_OUT" ]; then
    cp "$section" "$SECTION_OUT"
else
    splice_section "$out_path" scale-curve "$section"
    echo "scale-curve: written to $OUT and $CHART"
fi
cat "$section"

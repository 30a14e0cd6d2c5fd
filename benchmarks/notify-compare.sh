#!/usr/bin/env bash
# `make bench-notify`: notify -> callback latency (p50/p99) and notifications/s through jqb's notification broker
# against the same pattern over D-Bus (Debian's dbus-daemon on a private bus this script starts with a temporary
# config; never the system or session bus). 1 receiver (unicast to its app ID / a matched signal), broadcast to 10
# and to 100 receivers. Both sides are C programs: native/build/qbn-notify (libqb qb_ipcc_*, the jqb broker in a JVM
# in between) and native/build/dbusn-notify (libdbus-1, dbus-daemon in between).
#
# Latency: the sender puts CLOCK_MONOTONIC into params ({"t":ns}); each receiver subtracts it on arrival. Paced
# sends (NB_GAP_US, scaled with the receivers) so queues stay empty. Throughput: the sender sends as fast as it can
# (jqb: up to NB_WINDOW notifies in flight, every result collected; D-Bus: each signal flushed to the bus, no
# result), notifications/s = count /
# (last arrival at any receiver - first send); "delivered" = what the receivers got of count x receivers.
#
# Writes a Markdown section spliced into docs/PERFORMANCE.md between <!-- notify-compare:begin --> and
# <!-- notify-compare:end -->. Installs libdbus-1-dev and dbus-daemon when missing (root or sudo).
# Knobs: NB_RECEIVERS ("1 10 100"), NB_LAT_COUNT (2000, divided by receivers/10 for broadcasts),
# NB_TPUT_COUNT (20000, likewise), NB_GAP_US (500; x receivers/10 for broadcasts), NB_WINDOW (32: jqb notifies in
# flight in the throughput runs, results still collected and checked), NB_WARMUP (100000 notifications through
# each system before measuring), NB_PHASED (phased:1000:10000: the wait strategy of the second, spinning broker;
# empty for none), OUT (docs/PERFORMANCE.md).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib.sh
. "$root/benchmarks/lib.sh"

NB_RECEIVERS=${NB_RECEIVERS:-"1 10 100"}
NB_LAT_COUNT=${NB_LAT_COUNT:-2000}
NB_TPUT_COUNT=${NB_TPUT_COUNT:-20000}
NB_GAP_US=${NB_GAP_US:-500}
NB_PHASED=${NB_PHASED-phased:1000:10000}
NB_WINDOW=${NB_WINDOW:-32}
NB_WARMUP=${NB_WARMUP:-100000}
OUT=${OUT:-docs/PERFORMANCE.md}
JQB="$root/bin/jqb"
QBN="$root/native/build/qbn-notify"
DBN="$root/native/build/dbusn-notify"
export JQB_LOG_LEVEL=${JQB_LOG_LEVEL:-warn}

need=()
command -v dbus-daemon >/dev/null || need+=(dbus-daemon)
pkg-config --exists dbus-1 2>/dev/null || need+=(libdbus-1-dev)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    echo "bench-notify: installing ${need[*]}" >&2
    $sudo apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
        || { echo "bench-notify: cannot install ${need[*]}" >&2; exit 1; }
fi
make -s -C native all dbus >/dev/null || exit 1
[ -f "$root/target/jqb.jar" ] || make -s jar >/dev/null || exit 1

work=$(mktemp -d)
pids=()
bus_pid=""
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    [ -n "$bus_pid" ] && kill -TERM "$bus_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

started=$(date -u +"%Y-%m-%d %H:%M UTC")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)

# ---- the two brokers
svc="jqb-nbench-$$"
"$JQB" notify-broker --service "$svc" >"$work/broker.log" 2>"$work/broker.log.err" &
broker=$!
pids+=("$broker")
wait_ready "$work/broker.log" "$broker" "jqb notify-broker"
# The same broker with a loop that keeps spinning after each notification (NB_PHASED): no wake-up of the broker on
# a sender's request. A row of its own ("phased"), beside the blocking broker's.
svc2="jqb-nbench-phased-$$"
if [ -n "$NB_PHASED" ]; then
    "$JQB" notify-broker --service "$svc2" --wait "$NB_PHASED" >"$work/broker2.log" 2>"$work/broker2.log.err" &
    broker2=$!
    pids+=("$broker2")
    wait_ready "$work/broker2.log" "$broker2" "jqb notify-broker --wait $NB_PHASED"
fi

start_bus "$work" bench-notify

# cpu_ns PID: CPU time of every thread of PID so far, in ns (/proc/PID/task/*/schedstat, first field)
cpu_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

# ---- one run: SYSTEM RECEIVERS MODE(lat|tput) COUNT GAP_US -> "p50 p99 rate delivered daemon_cpu_us" on stdout
# (daemon_cpu_us: the broker's or dbus-daemon's CPU time per notification during the run, all its threads)
run() {
    local sys=$1 k=$2 mode=$3 count=$4 gap=$5 i rp=() line daemon cpu0 s=$svc
    [ "$sys" = jqb-phased ] && s=$svc2
    rm -f "$work"/recv.* "$work"/lat.*
    for i in $(seq 1 "$k"); do
        if [ "$sys" != dbus ]; then
            "$QBN" bench-recv --service "$s" --app "r$i" --count "$count" --idle-ms 10000 --out "$work/lat.$i" bench \
                >"$work/recv.$i" 2>&1 </dev/null &
        else
            "$DBN" bench-recv --address "$bus_addr" --count "$count" --idle-ms 10000 --out "$work/lat.$i" bench \
                >"$work/recv.$i" 2>&1 </dev/null &
        fi
        rp+=($!)
    done
    for i in $(seq 1 "$k"); do
        wait_ready "$work/recv.$i" "${rp[$((i - 1))]}" "receiver $i"
    done
    local to='*' window=1
    [ "$k" -eq 1 ] && to=r1
    [ "$mode" = tput ] && window=$NB_WINDOW
    daemon=$broker
    [ "$sys" = jqb-phased ] && daemon=$broker2
    [ "$sys" = dbus ] && daemon=$bus_pid
    cpu0=$(cpu_ns "$daemon")
    if [ "$sys" != dbus ]; then
        line=$("$QBN" bench-send --service "$s" --app sender --to "$to" --count "$count" --gap-us "$gap" \
            --window "$window" bench)
    else
        line=$("$DBN" bench-send --address "$bus_addr" --to "$to" --count "$count" --gap-us "$gap" bench)
    fi
    for p in "${rp[@]}"; do wait "$p" 2>/dev/null; done
    local cpu_us
    cpu_us=$(awk -v a="$cpu0" -v b="$(cpu_ns "$daemon")" -v n="$count" 'BEGIN { printf "%.2f", (b - a) / n / 1000 }')
    local start_ns
    start_ns=$(field "$line" start_ns)
    cat "$work"/lat.* 2>/dev/null | sort -n >"$work/all.lat"
    local p50 p99
    p50=$(awk '{a[NR]=$1} END {if (NR) printf "%.1f", a[int(NR*0.50)+1]/1000; else print "-"}' "$work/all.lat")
    p99=$(awk '{a[NR]=$1} END {if (NR) printf "%.1f", a[int(NR*0.99)+(NR*0.99==int(NR*0.99)?0:1)]/1000; else print "-"}' "$work/all.lat")
    local got=0 last=0 g l rcpu=0 rwake=0 scpu
    scpu=$(field "$line" cpu_us)
    for i in $(seq 1 "$k"); do
        line=$(grep '^done' "$work/recv.$i")
        g=$(field "$line" got); l=$(field "$line" last_ns)
        got=$((got + ${g:-0}))
        rcpu=$((rcpu + $(field "$line" cpu_us))); rwake=$((rwake + $(field "$line" wakes)))
        [ "${l:-0}" -gt "$last" ] && last=$l
    done
    local rate="-"
    if [ "$last" -gt "${start_ns:-0}" ] && [ "$got" -gt 0 ]; then
        rate=$(awk -v g="$got" -v k="$k" -v t=$((last - start_ns)) 'BEGIN { printf "%.0f", (g / k) / (t / 1e9) }')
    fi
    local pct
    pct=$(awk -v g="$got" -v n=$((count * k)) 'BEGIN { printf "%.1f", 100.0 * g / n }')
    # receivers' CPU per notification (all of them), per delivery, wake-ups per receiver per notification; sender's CPU
    local extra
    extra=$(awk -v rc="$rcpu" -v rw="$rwake" -v sc="${scpu:-0}" -v n="$count" -v k="$k" \
        'BEGIN { printf "%.1f %.2f %.3f %.2f", rc / n, rc / n / k, rw / n / k, sc / n }')
    echo "$p50 $p99 $rate $pct $cpu_us $extra"
}

# A long-running broker is JIT-compiled: warm it (and, alike, dbus-daemon) with NB_WARMUP notifications first.
run jqb 1 tput "$NB_WARMUP" 0 >/dev/null
run dbus 1 tput "$NB_WARMUP" 0 >/dev/null
systems="jqb dbus"
if [ -n "$NB_PHASED" ]; then
    run jqb-phased 1 tput "$NB_WARMUP" 0 >/dev/null
    systems="jqb jqb-phased dbus"
fi

results="$work/results.tsv"
: >"$results"
for k in $NB_RECEIVERS; do
    div=$(( k >= 10 ? k / 10 : 1 ))
    lat_count=$(( NB_LAT_COUNT / div )); [ "$lat_count" -lt 100 ] && lat_count=100
    tput_count=$(( NB_TPUT_COUNT / div / (k >= 10 ? 2 : 1) )); [ "$tput_count" -lt 500 ] && tput_count=500
    gap=$(( NB_GAP_US * div ))
    for sys in $systems; do
        # warm-up (JIT of the broker, caches of dbus-daemon), not recorded
        run "$sys" "$k" lat $(( lat_count / 4 + 50 )) "$gap" >/dev/null
        read -r p50 p99 _ lpct _ _ lwake_cpu _ _ < <(run "$sys" "$k" lat "$lat_count" "$gap")
        read -r _ _ rate tpct cpu rcpu _ rwake scpu < <(run "$sys" "$k" tput "$tput_count" 0)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$k" "$sys" "$lat_count" "$gap" "$p50" "$p99" \
            "$lpct" "$tput_count" "$rate" "$tpct" "$cpu" "$rcpu" "$rwake" "$scpu" "$lwake_cpu" >>"$results"
        echo "bench-notify: receivers=$k $sys p50=${p50}us p99=${p99}us (delivered $lpct%) rate=${rate}/s (delivered $tpct%) daemon CPU ${cpu}us/notification receivers ${rcpu}us/notification ${rwake} wake-ups/receiver/notification sender ${scpu}us/notification; paced: ${lwake_cpu}us per receiver wake-up" >&2
    done
done

stop_pid "$broker"
[ -n "$NB_PHASED" ] && stop_pid "$broker2"
pids=()
kill -TERM "$bus_pid" 2>/dev/null
bus_pid=""
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(( $(date +%s) - t_start ))

section="$work/section.md"
{
    echo "## Notifications: jqb broker vs D-Bus"
    echo
    echo "\`benchmarks/notify-compare.sh\` (\`make bench-notify\`), $started, $(nproc) vCPUs, load average before"
    echo "$load_before, after $load_after, ${elapsed} s. Senders and receivers are C programs on both sides:"
    echo "\`qbn-notify\` (libqb \`qb_ipcc_*\`; jqb's \`notify-broker\` in a JVM in between, SHM rings) and"
    echo "\`dbusn-notify\` (libdbus-1; Debian's \`dbus-daemon\` $(dbus-daemon --version | head -1 | awk '{print $NF}') on a"
    echo "private bus with a temporary config in between). Each notification carries from, to, id and params"
    echo "\`{\"t\":<send time ns>}\`; latency = arrival at the receiver − send time (CLOCK_MONOTONIC), pooled over all"
    echo "receivers, paced sends (gap column) after an unrecorded warm-up run. Throughput: the sender sends as fast"
    echo "as it can — jqb keeps up to $NB_WINDOW notifies in flight and checks every result (OK/…), a D-Bus signal is"
    echo "flushed to the bus (signals have no result) — and"
    echo "notifications/s = count ÷ (last arrival at any receiver − first send). \"delivered\" is what the receivers"
    echo "got of count × receivers (the jqb broker drops for a client more than 1,024 events behind; dbus-daemon"
    echo "buffers up to its limits). 1 receiver: jqb unicasts to its app ID, D-Bus has one matching receiver. Both"
    echo "systems first carried $NB_WARMUP unrecorded notifications (the broker's JIT warm-up, as in a long-running"
    echo "broker). \"daemon CPU\" is the CPU time of the broker (every JVM thread) or of dbus-daemon during the"
    echo "throughput run, per notification (/proc/PID/task/*/schedstat): what routing costs the host, whatever the"
    echo "receivers do. The broker coalesces event notifications per loop pass and routes without allocating"
    echo "(docs/NOTIFY-PROTOCOL.md, \"Threads and bounds\")."
    if [ -n "$NB_PHASED" ]; then
        echo "The \"--wait $NB_PHASED\" rows run a second broker (\`bin/jqb notify-broker --wait $NB_PHASED\`) whose"
        echo "loop keeps spinning, then yielding (µs) after each notification, so a sender's request wakes no broker"
        echo "thread; each receiver still wakes once per notification (with D-Bus the daemon and the receiver wake)."
    fi
    echo
    echo "| receivers | system | lat count (gap µs) | p50 µs | p99 µs | throughput count | notifications/s | delivered | daemon CPU µs/notification | p50 jqb÷D-Bus | throughput jqb÷D-Bus |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' -v phased="$NB_PHASED" '
        { n++; for (i = 1; i <= NF; i++) f[n, i] = $i; if ($2 == "dbus") d[$1] = n }
        END {
          for (r = 1; r <= n; r++) {
            b = d[f[r,1]]; lr = "-"; tr = "-"
            if (f[r,2] != "dbus" && b) {
              if (f[r,5] != "-" && f[b,5] != "-" && f[b,5] > 0) lr = sprintf("%.2f", f[r,5] / f[b,5])
              if (f[r,9] != "-" && f[b,9] != "-" && f[b,9] > 0) tr = sprintf("%.1f", f[r,9] / f[b,9])
            }
            printf "| %s | %s | %s (%s) | %s | %s | %s | %s | %s%% | %s | %s | %s |\n", f[r,1],
              f[r,2] == "jqb" ? "jqb broker" : f[r,2] == "dbus" ? "D-Bus" : "jqb broker, `--wait " phased "`", f[r,3], f[r,4], f[r,5], f[r,6], f[r,8], f[r,9], f[r,10],
              f[r,11], lr, tr
          }
        }' "$results"
    echo
    echo "Where the CPU goes, per notification (getrusage of each C program, /proc schedstat of the daemon): in the"
    echo "throughput run the daemon, all receivers together (and per delivery), how often each receiver blocked and"
    echo "woke (voluntary context switches ÷ notifications: below 1 means it drained several events per wake-up), the"
    echo "sender; in the paced run every receiver wakes once per notification, so its CPU per notification is the"
    echo "cost of one receiver wake-up (poll, the event, back to sleep, with the context switches)."
    echo
    echo "| receivers | system | daemon µs | receivers µs (per delivery) | wake-ups per receiver per notification | sender µs | paced: µs per receiver wake-up |"
    echo "|---:|---|---:|---:|---:|---:|---:|"
    awk -F'\t' -v phased="$NB_PHASED" '{
        printf "| %s | %s | %s | %s (%.2f) | %s | %s | %s |\n", $1,
          $2 == "jqb" ? "jqb broker" : $2 == "dbus" ? "D-Bus" : "jqb broker, `--wait " phased "`", $11, $12,
          ($1 > 0 ? $12 / $1 : 0), $13, $14, $15 }' "$results"
    echo
    echo "Targets (issue 13): p50 ≤ 0.3× D-Bus, throughput ≥ 5× D-Bus."
    echo
    echo '```'
    echo "benchmarks/notify-compare.sh   # NB_RECEIVERS=\"$NB_RECEIVERS\" NB_LAT_COUNT=$NB_LAT_COUNT NB_TPUT_COUNT=$NB_TPUT_COUNT NB_GAP_US=$NB_GAP_US NB_PHASED=$NB_PHASED NB_WINDOW=$NB_WINDOW NB_WARMUP=$NB_WARMUP"
    echo '```'
} >"$section"
splice_section "$root/$OUT" notify-compare "$section"
cat "$section"
echo "bench-notify: written to $OUT" >&2

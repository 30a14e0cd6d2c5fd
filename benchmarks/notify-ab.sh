#!/usr/bin/env bash
# A/B of jqb notification brokers (and D-Bus) for the pattern of notify-compare.sh: for each round and receiver
# count, each given build's `bin/jqb notify-broker` in turn (and, with NB_DBUS=1, a private dbus-daemon), the same
# C sender and receivers (this checkout's native/build/qbn-notify, dbusn-notify), a paced latency run and a
# pipelined throughput run. Builds alternate within every round, so a machine whose load moves from minute to
# minute loads every build alike; per build and receiver count it prints the median p50/p99, notifications/s and
# the daemon's CPU time per notification in the throughput run (all its threads; the least load-sensitive figure),
# and from the C programs' getrusage: the receivers' CPU per notification (all of them) and wake-ups (voluntary
# context switches) per receiver per notification in the throughput run, the sender's likewise, and the receivers'
# CPU per notification in the paced run (each receiver wakes once per notification there: the wake-up's cost).
#
# Usage: benchmarks/notify-ab.sh [ROUNDS=3] [BUILD_DIR...]   (default: this checkout; a build = a checkout with
#        `make` done). Knobs: NB_RECEIVERS ("1 10 100"), NB_LAT_COUNT (1000), NB_TPUT_COUNT (10000), NB_GAP_US
#        (500), NB_WINDOW (32), NB_WARMUP (20000), NB_DBUS (1: include D-Bus as a build named "dbus"), KEEP (1: keep
#        the logs).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/lib.sh"

ROUNDS=${1:-3}
shift 1 2>/dev/null || true
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("$root")
NB_RECEIVERS=${NB_RECEIVERS:-"1 10 100"}
NB_LAT_COUNT=${NB_LAT_COUNT:-1000}
NB_TPUT_COUNT=${NB_TPUT_COUNT:-10000}
NB_GAP_US=${NB_GAP_US:-500}
NB_WINDOW=${NB_WINDOW:-32}
NB_WARMUP=${NB_WARMUP:-20000}
NB_DBUS=${NB_DBUS:-1}
QBN="$root/native/build/qbn-notify"
DBN="$root/native/build/dbusn-notify"
export JQB_LOG_LEVEL=warn
make -s -C "$root/native" all >/dev/null || exit 1
[ "$NB_DBUS" = 1 ] && { make -s -C "$root/native" dbus >/dev/null || exit 1; }

work=$(mktemp -d /tmp/jqb-notify-ab.XXXXXX)
broker=""
bus_pid=""
cleanup() {
    [ -n "$broker" ] && stop_pid "$broker"
    [ -n "$bus_pid" ] && kill -TERM "$bus_pid" 2>/dev/null
    wait 2>/dev/null
    if [ "${KEEP:-0}" = 1 ]; then echo "notify-ab: logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# cpu_ns PID: CPU time of every thread of PID so far, in ns
cpu_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

# one SYS(jqb|dbus) K MODE(lat|tput) COUNT GAP -> "p50_us p99_us rate pct daemon_cpu_us_per_notification"
one() {
    local sys=$1 k=$2 mode=$3 count=$4 gap=$5 i rp=() line daemon cpu0
    rm -f "$work"/recv.* "$work"/lat.*
    for i in $(seq 1 "$k"); do
        if [ "$sys" = jqb ]; then
            "$QBN" bench-recv --service "$svc" --app "r$i" --count "$count" --idle-ms 10000 --out "$work/lat.$i" bench \
                >"$work/recv.$i" 2>&1 </dev/null &
        else
            "$DBN" bench-recv --address "$bus_addr" --count "$count" --idle-ms 10000 --out "$work/lat.$i" bench \
                >"$work/recv.$i" 2>&1 </dev/null &
        fi
        rp+=($!)
    done
    for i in $(seq 1 "$k"); do wait_ready "$work/recv.$i" "${rp[$((i - 1))]}" "receiver $i"; done
    local to='*' window=1
    [ "$k" -eq 1 ] && to=r1
    [ "$mode" = tput ] && window=$NB_WINDOW
    daemon=$broker
    [ "$sys" = jqb ] || daemon=$bus_pid
    cpu0=$(cpu_ns "$daemon")
    if [ "$sys" = jqb ]; then
        line=$("$QBN" bench-send --service "$svc" --app sender --to "$to" --count "$count" --gap-us "$gap" \
            --window "$window" bench)
    else
        line=$("$DBN" bench-send --address "$bus_addr" --to "$to" --count "$count" --gap-us "$gap" bench)
    fi
    for p in "${rp[@]}"; do wait "$p" 2>/dev/null; done
    local cpu_us
    cpu_us=$(awk -v a="$cpu0" -v b="$(cpu_ns "$daemon")" -v n="$count" 'BEGIN { printf "%.2f", (b - a) / n / 1000 }')
    local start_ns got=0 last=0 g l
    start_ns=$(field "$line" start_ns)
    cat "$work"/lat.* 2>/dev/null | sort -n >"$work/all.lat"
    local p50 p99
    p50=$(awk '{a[NR]=$1} END {if (NR) printf "%.1f", a[int(NR*0.50)+1]/1000; else print "-"}' "$work/all.lat")
    p99=$(awk '{a[NR]=$1} END {if (NR) printf "%.1f", a[int(NR*0.99)+(NR*0.99==int(NR*0.99)?0:1)]/1000; else print "-"}' "$work/all.lat")
    local rcpu=0 rwake=0 scpu swake
    scpu=$(field "$line" cpu_us); swake=$(field "$line" wakes)
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
    # receivers' CPU per notification (all of them), wake-ups per receiver per notification; the sender's likewise
    local extra
    extra=$(awk -v rc="$rcpu" -v rw="$rwake" -v sc="${scpu:-0}" -v sw="${swake:-0}" -v n="$count" -v k="$k" \
        'BEGIN { printf "%.2f %.3f %.2f %.3f", rc / n, rw / n / k, sc / n, sw / n }')
    echo "$p50 $p99 $rate $(awk -v g="$got" -v n=$((count * k)) 'BEGIN { printf "%.1f", 100.0 * g / n }') $cpu_us $extra"
}

names=()
for b in "${builds[@]}"; do names+=("$b"); done
[ "$NB_DBUS" = 1 ] && names+=(dbus)
for r in $(seq 1 "$ROUNDS"); do
    for k in $NB_RECEIVERS; do
        div=$(( k >= 10 ? k / 10 : 1 ))
        lat_count=$(( NB_LAT_COUNT / div )); [ "$lat_count" -lt 100 ] && lat_count=100
        tput_count=$(( NB_TPUT_COUNT / div / (k >= 10 ? 2 : 1) )); [ "$tput_count" -lt 500 ] && tput_count=500
        gap=$(( NB_GAP_US * div ))
        i=0
        for b in "${names[@]}"; do
            i=$((i + 1))
            if [ "$b" = dbus ]; then
                start_bus "$work" notify-ab
                sys=dbus
                one dbus 1 tput "$NB_WARMUP" 0 >/dev/null
            else
                svc="jqb-nab-$$-$r-$k-$i"
                # a log per broker: a reused one may still hold the previous broker's "ready" when polled
                blog="$work/broker-$r-$k-$i.log"
                "$b/bin/jqb" notify-broker --service "$svc" >"$blog" 2>"$blog.err" </dev/null &
                broker=$!
                wait_ready "$blog" "$broker" "notify-broker of $b"
                sys=jqb
                one jqb 1 tput "$NB_WARMUP" 0 >/dev/null   # the JIT warm-up of a long-running broker
            fi
            one "$sys" "$k" lat $(( lat_count / 4 + 50 )) "$gap" >/dev/null
            read -r p50 p99 _ lpct _ lrcpu lrwake _ _ < <(one "$sys" "$k" lat "$lat_count" "$gap")
            read -r _ _ rate tpct cpu rcpu rwake scpu swake < <(one "$sys" "$k" tput "$tput_count" 0)
            if [ "$b" = dbus ]; then
                kill -TERM "$bus_pid" 2>/dev/null; bus_pid=""
            else
                stop_pid "$broker"; broker=""
            fi
            echo "round=$r receivers=$k build=$i:$b p50_us=$p50 p99_us=$p99 lat_delivered=$lpct lat_recv_cpu_us=$lrcpu lat_recv_wakes=$lrwake rate=$rate tput_delivered=$tpct cpu_us=$cpu recv_cpu_us=$rcpu recv_wakes=$rwake send_cpu_us=$scpu send_wakes=$swake" \
                | tee -a "$work/results"
        done
    done
done

echo "== medians over $ROUNDS rounds (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
for k in $NB_RECEIVERS; do
    i=0
    for b in "${names[@]}"; do
        i=$((i + 1))
        sel() { grep -F " receivers=$k build=$i:" "$work/results" | while read -r l; do field "$l" "$1"; done | median; }
        echo "receivers=$k build=$b p50_us=$(sel p50_us) p99_us=$(sel p99_us) lat_recv_cpu_us=$(sel lat_recv_cpu_us) rate=$(sel rate) daemon_cpu_us=$(sel cpu_us) recv_cpu_us=$(sel recv_cpu_us) recv_wakes=$(sel recv_wakes) send_cpu_us=$(sel send_cpu_us) send_wakes=$(sel send_wakes)"
    done
done

#!/usr/bin/env bash
# The level of each fresh spinning pair, followed through its life (issue 14 item 2; performance notes, "Spin mode: the
# 1 µs level of some fresh pairs"): PAIRS times, back to back, (1) a C pair (two forked processes pinned as below, one
# shared line each way, native/build/qbn-floor's plain floor) reporting the median of every window of round trips, (2)
# a fresh `jqb echo-server --wait spin` and a fresh io.jqb.bench.SpinSeries client (jqb bench's spinning loop, a real
# Client) reporting the same per window, (3) the C pair again. Each line: "pair=N kind=c|jqb series ms:p50 ...".
# A pair whose windows stay at one level through its life while the C windows around it move shows a level that
# belongs to the pair; windows that move together with the C pairs' show the machine's.
#
# PROBE=1: native/build/qbn-regime --series also runs during each jqb pair, at SCHED_FIFO (a burst of 2000 plain
# ping-pong round trips every 20 ms, preempting the pair; needs root), and a third line per pair counts, for every
# burst inside the pair's timed windows, the burst's level and the enclosing jqb window's level ("pair=N kind=both
# nn=.. ss=.. ns=.. sn=.. ..."; first letter the C burst, second jqb; f < 100 / 280 ns, n < 300 / 700 ns, else s):
# the two measured within milliseconds of each other on the same CPUs.
#
# Usage: benchmarks/spin-levels.sh [PAIRS=10] [SIZE=64] [JVM_OPTS]   (JVM_OPTS for the jqb server and client)
# Knobs: WINDOWS (40) x PER_WINDOW (5000) round trips per jqb pair after WARMUP (20000); C_WINDOWS (40) x
#        C_PER_WINDOW (5000), C_ARGS (more qbn-floor options, e.g. "--layout jqb"); CPU_SERVER (0), CPU_CLIENT (1).
# Needs `make`, and the benchmark classes: mvn -DskipTests test-compile dependency:build-classpath
#   -Dmdep.outputFile=target/test.cp -Dmdep.includeScope=test (as `make bench` does).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/lib.sh"
PAIRS=${1:-10}
SIZE=${2:-64}
OPTS=${3:-}
WINDOWS=${WINDOWS:-40}
PER_WINDOW=${PER_WINDOW:-5000}
WARMUP=${WARMUP:-20000}
C_WINDOWS=${C_WINDOWS:-40}
C_PER_WINDOW=${C_PER_WINDOW:-5000}
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
PROBE=${PROBE:-0}
floor="$root/native/build/qbn-floor"
need_native spin-levels "$floor"
[ "$WINDOWS" -ge 2 ] 2>/dev/null || { echo "spin-levels: WINDOWS must be >= 2 (the last window's end is its start plus the one before's length)" >&2; exit 2; }
regime_bin="$root/native/build/qbn-regime"
if [ "$PROBE" = 1 ]; then
    need_native spin-levels "$regime_bin"
    need_root spin-levels "PROBE=1 needs root (qbn-regime runs at SCHED_FIFO)"
fi
[ -f "$root/target/test.cp" ] && [ -f "$root/target/test-classes/io/jqb/bench/SpinSeries.class" ] ||
    { echo "spin-levels: build the benchmark classes first (see the header)" >&2; exit 2; }
work=$(mktemp -d /tmp/jqb-spin-levels.XXXXXX)
server=""
probe=""
trap cleanup_server_probe EXIT
export JQB_LOG_LEVEL=warn
cp="$root/target/test-classes:$root/target/classes:$(cat "$root/target/test.cp")"
cseries() {
    "$floor" --series "$C_WINDOWS" --size "$SIZE" --count $((C_WINDOWS * C_PER_WINDOW)) ${C_ARGS:-} --server-cpu "$CPU_SERVER" \
        --client-cpu "$CPU_CLIENT" | grep '^series'
}
for p in $(seq 1 "$PAIRS"); do
    echo "pair=$p kind=c $(cseries)"
    svc="jqbspinlevels-$$-$p"
    rm -f "$work/server.log"
    JQB_JAVA_OPTS="$OPTS" taskset -c "$CPU_SERVER" "$root/bin/jqb" echo-server --service "$svc" --transport shm \
        --wait spin >"$work/server.log" 2>"$work/server.log.err" </dev/null &
    server=$!
    wait_ready "$work/server.log" "$server" "the spinning jqb server"
    if [ "$PROBE" = 1 ]; then
        "$regime_bin" --series --server-cpu "$CPU_SERVER" --client-cpu "$CPU_CLIENT" \
            >"$work/probe.out" &
        probe=$!
    fi
    # shellcheck disable=SC2086 # OPTS are separate JVM options
    out=$(timeout 120 taskset -c "$CPU_CLIENT" java -Djqb.guard.library="$root/native/build/libjqbguard.so" \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=warn $OPTS -cp "$cp" io.jqb.bench.SpinSeries "$svc" "$SIZE" \
        "$WARMUP" "$WINDOWS" "$PER_WINDOW" 2>"$work/client.err")
    [ -n "$out" ] || { echo "spin-levels: client failed:" >&2; cat "$work/client.err" "$work/server.log.err" >&2; }
    if [ -n "$probe" ]; then
        kill -TERM "$probe" 2>/dev/null
        wait "$probe" 2>/dev/null || echo "spin-levels: qbn-regime failed (rc $?; its message is above)" >&2
        probe=""
    fi
    stop_pid "$server"
    server=""
    jseries=$(echo "$out" | grep '^series')
    echo "pair=$p kind=jqb $jseries | $(echo "$out" | grep '^size=')"
    if [ "$PROBE" = 1 ]; then
        echo "pair=$p kind=regime $(grep '^regime=' "$work/probe.out")"
        # Each burst (EPOCH_MS:P50) against the jqb window (T0 + START_MS:P50) it fell in.
        { echo "$jseries"; grep '^series' "$work/probe.out"; } | awk -v pair="$p" '
            function lc(v) { return v < 100 ? "f" : v < 300 ? "n" : "s" }
            function lj(v) { return v < 280 ? "f" : v < 700 ? "n" : "s" }
            NR == 1 { split($2, t, "="); for (i = 3; i <= NF; i++) { split($i, a, ":"); ws[i - 2] = t[2] + a[1]; wv[i - 2] = a[2] }
                      nw = NF - 2; next }
            { for (i = 2; i <= NF; i++) { split($i, a, ":")
                for (k = 1; k <= nw; k++) { e = k < nw ? ws[k + 1] : ws[k] + (ws[k] - ws[k - 1])
                    if (a[1] >= ws[k] && a[1] < e) { c[lc(a[2]) lj(wv[k])]++; break } } } }
            END { printf "pair=%s kind=both", pair; for (x in c) printf " %s=%d", x, c[x]; printf "\n" }'
    fi
    echo "pair=$p kind=c $(cseries)"
done

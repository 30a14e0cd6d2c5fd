#!/usr/bin/env bash
# `make bench-stream`: the stream layer (io.jqb.stream) against the same framed echo written with plain java.nio
# (benchmarks/java/io/jqb/bench/NioStreamEcho.java) and in C on plain sockets (native/build/qbn-stream), over
# loopback TCP and a local (Unix domain) stream socket; then TLS: jqb's framed echo over TLS, handshakes per second
# served by jqb vs by `openssl s_server` (both measured with `openssl s_time -new`), and `openssl speed` for the
# bulk cipher. Each implementation talks to itself (its own echo server and its own client), one connection,
# blocking round trips; payloads 64 B, 4 KiB and 64 KiB. Splices the section between <!-- stream-compare:begin -->
# and <!-- stream-compare:end --> into docs/PERFORMANCE.md.
#
# Knobs (environment): COUNT (round trips per cell at 64 B and 4 KiB; a quarter at 64 KiB), WARMUP, TLS_COUNT,
# STIME_SECONDS, OUT (the Markdown file), CELL_TIMEOUT (seconds).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib.sh
. "$root/benchmarks/lib.sh"

COUNT=${COUNT:-20000}
WARMUP=${WARMUP:-10000}
TLS_COUNT=${TLS_COUNT:-5000}
STIME_SECONDS=${STIME_SECONDS:-10}
OUT=${OUT:-docs/PERFORMANCE.md}
case $OUT in /*) out_file=$OUT ;; *) out_file=$root/$OUT ;; esac
CELL_TIMEOUT=${CELL_TIMEOUT:-300}
SIZES=(64 4096 65536)
JQB="$root/bin/jqb"
CSTREAM="$root/native/build/qbn-stream"
NIO=(java -cp "$root/target/test-classes" io.jqb.bench.NioStreamEcho)

[ -x "$CSTREAM" ] || { echo "bench: build first (make native)" >&2; exit 1; }
[ -f "$root/target/test-classes/io/jqb/bench/NioStreamEcho.class" ] || { echo "bench: build first (mvn test-compile)" >&2; exit 1; }

work=$(mktemp -d)
commands="$work/commands"
pids=()
cleanup() {
    for p in "${pids[@]}"; do stop_pid "$p"; done
    rm -rf "$work"
}
trap cleanup EXIT
export JQB_LOG_LEVEL=warn

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
record() { echo "$*" >>"$commands"; }

# start_server NAME CMD...: starts a server, waits for its ready line; sets $srv_pid
start_server() {
    local name=$1; shift
    record "$@ &"
    "$@" >"$work/$name.log" 2>"$work/$name.log.err" &
    srv_pid=$!
    pids+=("$srv_pid")
    wait_ready "$work/$name.log" "$srv_pid" "$name"
}

declare -A P50 MPS
run_cell() { # key CMD...
    local key=$1; shift
    record "$@"
    local out
    out=$(timeout "$CELL_TIMEOUT" "$@" 2>"$work/client.err" | grep '^size=')
    if [ -z "$out" ]; then
        echo "bench: $key failed: $(head -3 "$work/client.err")" >&2
        P50[$key]="-"; MPS[$key]="-"; return
    fi
    P50[$key]=$(field "$out" p50_ns); MPS[$key]=$(field "$out" msgs_per_s)
    echo "  $key: $out"
}

start=$(date +%s)
for t in tcp pipe; do
    for impl in c nio jqb; do
        if [ "$t" = tcp ]; then
            port=$(free_port); addr="127.0.0.1:$port"
            srv_arg=(--tcp "$addr"); cli_arg=(--tcp "$addr")
        else
            path="$work/$impl.sock"
            srv_arg=(--pipe "$path"); cli_arg=(--pipe "$path")
        fi
        case $impl in
            c) start_server "c-$t" "$CSTREAM" echo "${srv_arg[@]}" ;;
            nio) start_server "nio-$t" "${NIO[@]}" echo "${srv_arg[@]}" ;;
            jqb) start_server "jqb-$t" "$JQB" stream-echo "${srv_arg[@]}" ;;
        esac
        for size in "${SIZES[@]}"; do
            n=$COUNT; [ "$size" -ge 65536 ] && n=$((COUNT / 4))
            case $impl in
                c) run_cell "$t-$size-c" "$CSTREAM" bench "${cli_arg[@]}" --count "$n" --size "$size" --warmup "$WARMUP" ;;
                nio) run_cell "$t-$size-nio" "${NIO[@]}" bench "${cli_arg[@]}" --count "$n" --size "$size" --warmup "$WARMUP" ;;
                jqb) run_cell "$t-$size-jqb" "$JQB" stream-bench "${cli_arg[@]}" --count "$n" --size "$size" --warmup "$WARMUP" ;;
            esac
        done
        stop_pid "$srv_pid"
    done
done

# TLS: a throw-away CA and server certificate for localhost
pki="$work/pki"; mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$pki/ca.key" -out "$pki/ca.pem" \
    -days 2 -subj /CN=bench-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$pki/srv.key" -out "$pki/srv.csr" \
    -subj /CN=localhost 2>/dev/null
echo "subjectAltName=DNS:localhost" >"$pki/ext"
openssl x509 -req -in "$pki/srv.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial -out "$pki/srv.pem" \
    -days 2 -extfile "$pki/ext" 2>/dev/null
port=$(free_port)
start_server jqb-tls "$JQB" stream-echo --tls "127.0.0.1:$port" --cert "$pki/srv.pem" --key "$pki/srv.key"
for size in 64 65536; do
    n=$TLS_COUNT; [ "$size" -ge 65536 ] && n=$((TLS_COUNT / 4))
    run_cell "tls-$size-jqb" "$JQB" stream-bench --tls "localhost:$port" --ca "$pki/ca.pem" --count "$n" --size "$size" \
        --warmup "$((WARMUP / 4))"
done
stop_pid "$srv_pid"

# handshakes/s: openssl s_time (new session each time, no data) against a jqb TLS server and against s_server
stime() { # label port
    record "openssl s_time -connect 127.0.0.1:$2 -new -time $STIME_SECONDS -CAfile $pki/ca.pem"
    local line
    line=$(timeout "$CELL_TIMEOUT" openssl s_time -connect "127.0.0.1:$2" -new -time "$STIME_SECONDS" \
        -CAfile "$pki/ca.pem" 2>/dev/null | grep 'real seconds' | head -1)
    # "N connections in T real seconds, ..."
    HS[$1]=$(echo "$line" | awk '{ if ($4 > 0) printf "%.0f", $1 / $4; else print "-" }')
    echo "  handshakes $1: ${HS[$1]:--}/s ($line)"
}
declare -A HS
port=$(free_port)
start_server jqb-tls-raw "$JQB" stream-echo --tls "127.0.0.1:$port" --cert "$pki/srv.pem" --key "$pki/srv.key" --raw
stime jqb "$port"
stop_pid "$srv_pid"
port=$(free_port)
record "openssl s_server -accept 127.0.0.1:$port -cert $pki/srv.pem -key $pki/srv.key &"
# s_server ends a connection when its stdin ends: give it one that lasts
openssl s_server -accept "127.0.0.1:$port" -cert "$pki/srv.pem" -key "$pki/srv.key" >"$work/s_server.log" 2>&1 \
    < <(sleep $((STIME_SECONDS + CELL_TIMEOUT))) &
srv_pid=$!; pids+=("$srv_pid")
for _ in $(seq 1 100); do grep -q ACCEPT "$work/s_server.log" && break; sleep 0.1; done
stime openssl "$port"
stop_pid "$srv_pid"
record "openssl speed -evp aes-256-gcm -bytes 16384 -seconds 2"
speed_k=$(openssl speed -evp aes-256-gcm -bytes 16384 -seconds 2 2>/dev/null | awk '/^AES-256-GCM|^aes-256-gcm/ { v = $NF } END { print v }')
speed_mb=$(echo "$speed_k" | awk '{ sub(/k$/, "", $1); if ($1 != "") printf "%.0f", $1 * 1000 / 1e6; else print "-" }')
elapsed=$(( $(date +%s) - start ))

us() { [ "$1" = "-" ] && echo "-" || awk -v v="$1" 'BEGIN { printf "%.1f", v / 1000 }'; }
ratio() { { [ "$1" = "-" ] || [ "$2" = "-" ]; } && echo "-" || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }
section="$work/section.md"
{
    echo "## Stream layer: jqb stream vs plain java.nio vs C (framed echo)"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`benchmarks/stream-compare.sh\` (\`make bench-stream\`) on"
    echo "$(nproc) vCPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end, ${elapsed} s; single run."
    echo "Each implementation talks to itself over one connection (its own echo server, its own client), blocking"
    echo "round trips with frames {prefix, id, length} + payload; $COUNT round trips per cell ($((COUNT / 4)) at 64 KiB)"
    echo "after $WARMUP warm-up ones; processes not pinned. C = \`native/build/qbn-stream\` (blocking recv/sendmsg),"
    echo "java.nio = \`NioStreamEcho\` (blocking SocketChannel, direct buffers, gathering writes). Ratios divide jqb's"
    echo "p50 by the other's (below 1: jqb faster)."
    echo "msgs/s is the whole run's count over its wall time (one connection): on a loaded machine it swings far"
    echo "more than p50, which is the figure to compare."
    echo
    echo "| transport | size | C p50 µs | java.nio p50 µs | jqb p50 µs | C msgs/s | java.nio msgs/s | jqb msgs/s | jqb/C p50 | jqb/nio p50 |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for t in tcp pipe; do
        for size in "${SIZES[@]}"; do
            c=${P50[$t-$size-c]}; n=${P50[$t-$size-nio]}; j=${P50[$t-$size-jqb]}
            echo "| $t | $size | $(us "$c") | $(us "$n") | $(us "$j") | ${MPS[$t-$size-c]} | ${MPS[$t-$size-nio]} | ${MPS[$t-$size-jqb]} | $(ratio "$j" "$c") | $(ratio "$j" "$n") |"
        done
    done
    echo
    echo "TLS (JDK SSLEngine, TLS 1.3, ECDSA P-256 certificate; loopback):"
    echo
    echo "| what | figure |"
    echo "|---|---:|"
    echo "| jqb TLS framed echo 64 B: p50 | $(us "${P50[tls-64-jqb]}") µs (${MPS[tls-64-jqb]} msgs/s) |"
    echo "| jqb TLS framed echo 64 KiB: p50 | $(us "${P50[tls-65536-jqb]}") µs (${MPS[tls-65536-jqb]} msgs/s) |"
    mb=$(awk -v m="${MPS[tls-65536-jqb]}" 'BEGIN { if (m == "-") print "-"; else printf "%.0f", m * 65536 * 2 / 1e6 }')
    echo "| jqb TLS bulk (64 KiB echo, both directions) | $mb MB/s |"
    echo "| \`openssl speed -evp aes-256-gcm\` (16 KiB blocks, one core, cipher only) | $speed_mb MB/s |"
    echo "| handshakes/s served by jqb (\`openssl s_time -new\` as client) | ${HS[jqb]:--} |"
    echo "| handshakes/s served by \`openssl s_server\` (same client) | ${HS[openssl]:--} |"
    echo
    echo "Commands, in order:"
    echo
    echo '```'
    sed -e "s|$root/||g" -e "s|$work|\$TMP|g" "$commands"
    echo '```'
} >"$section"
splice_section "$out_file" stream-compare "$section"
cat "$section"
echo "bench-stream: ${elapsed} s; written to $OUT"

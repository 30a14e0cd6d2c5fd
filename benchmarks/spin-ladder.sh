#!/usr/bin/env bash
# The spin round trip, rung by rung from the C floor to jqb (issue 14 item 2; performance notes, "Spin mode: the 4 KiB
# gap"): each round runs every entry once, back to back, so that every round's entries share this VM's regime of the
# moment (the cost of crossing its vCPUs moves from second to second); medians over the rounds at the end.
#
# Usage: benchmarks/spin-ladder.sh ROUNDS SIZE NAME=SPEC...
#   SPEC  floor[:ARGS]             native/build/qbn-floor with ARGS (e.g. "floor:--layout jqb --max-msg-size 4136")
#         SERVER,CLIENT[@JVM_OPTS] a server and a client, JVM_OPTS for both (e.g. -Dladder.maxMsg=4136):
#           SERVER  jqb (bin/jqb echo-server --wait spin) | unsafe | ring | takeover   (io.jqb.bench.SpinLadder)
#           CLIENT  jqb (bin/jqb bench --wait spin)       | unsafe | ring | client
#           unsafe+memcpy: the unsafe rung copying with glibc's memcpy (both ends say it)
# e.g.  benchmarks/spin-ladder.sh 8 4096 floor=floor "layout=floor:--layout jqb" unsafe=unsafe,unsafe \
#           ring=ring,ring realserver=jqb,client realclient=takeover,jqb jqb=jqb,jqb
# Knobs: COUNT (50000 timed round trips), WARMUP (50000 before them, in every run), CPU_SERVER (0), CPU_CLIENT (1).
# Needs `make` and the benchmark classes: mvn -DskipTests test-compile dependency:build-classpath
#   -Dmdep.outputFile=target/test.cp -Dmdep.includeScope=test (as `make bench` does).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/lib.sh"

[ $# -ge 3 ] || { sed -n '2,16p' "$0" >&2; exit 2; }
ROUNDS=$1
SIZE=$2
shift 2
COUNT=${COUNT:-50000}
WARMUP=${WARMUP:-50000}
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
floor="$root/native/build/qbn-floor"
need_native spin-ladder "$floor"
[ -f "$root/target/test.cp" ] && [ -f "$root/target/test-classes/io/jqb/bench/SpinLadder.class" ] ||
    { echo "spin-ladder: build the benchmark classes first (see the header)" >&2; exit 2; }

work=$(mktemp -d /tmp/jqb-spin-ladder.XXXXXX)
server=""
shm=""
cleanup() {
    [ -n "$server" ] && stop_pid "$server"
    rm -rf "$work"
    [ -n "$shm" ] && rm -rf "$shm"
}
trap cleanup EXIT
export JQB_LOG_LEVEL=warn
cp="$root/target/test-classes:$root/target/classes:$(cat "$root/target/test.cp")"
jbase=(-Djqb.guard.library="$root/native/build/libjqbguard.so" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn)

# ladder CPU OPTS ARGS...: io.jqb.bench.SpinLadder pinned to CPU (at most 120 s)
ladder() {
    local cpu=$1 opts=$2
    shift 2
    # shellcheck disable=SC2086 # OPTS are separate JVM options
    timeout 120 taskset -c "$cpu" java "${jbase[@]}" $opts -cp "$cp" io.jqb.bench.SpinLadder "$@"
}

# rung NAME: the SpinLadder rung of a SERVER/CLIENT word, and its copy ("unsafe+memcpy" -> unsafe memcpy)
rung() { echo "${1%%+*}"; }
copy() { [ "$1" != "${1%%+*}" ] && echo "${1#*+}" || echo unsafe; }

for r in $(seq 1 "$ROUNDS"); do
    for e in "$@"; do
        name=${e%%=*}
        spec=${e#*=}
        line=""
        case $spec in
            floor*)
                fargs=""
                [ "$spec" != floor ] && fargs=${spec#floor:}
                # shellcheck disable=SC2086 # ARGS are separate options
                line=$("$floor" --size "$SIZE" --count "$COUNT" --warmup "$WARMUP" --server-cpu "$CPU_SERVER" \
                    --client-cpu "$CPU_CLIENT" $fargs | grep '^size=')
                ;;
            *)
                pair=${spec%%@*}
                opts=""
                [ "$spec" != "$pair" ] && opts=${spec#*@}
                srv=${pair%%,*}
                cli=${pair#*,}
                svc="jqbladder-$$-$r-$name"
                shm=$(mktemp -d /dev/shm/jqb-spin-ladder.XXXXXX)
                rm -f "$work/server.log" # the last server's "ready" must not count for this one
                case $srv in
                    jqb) JQB_JAVA_OPTS="$opts" taskset -c "$CPU_SERVER" "$root/bin/jqb" echo-server --service "$svc" \
                        --transport shm --wait spin >"$work/server.log" 2>"$work/server.log.err" </dev/null & ;;
                    takeover) ladder "$CPU_SERVER" "$opts" server takeover "$svc" "$SIZE" \
                        >"$work/server.log" 2>"$work/server.log.err" </dev/null & ;;
                    *) ladder "$CPU_SERVER" "$opts" server "$(rung "$srv")" "$shm" "$SIZE" "$(copy "$srv")" \
                        >"$work/server.log" 2>"$work/server.log.err" </dev/null & ;;
                esac
                server=$!
                wait_ready "$work/server.log" "$server" "the $srv server"
                case $cli in
                    jqb) line=$(JQB_JAVA_OPTS="$opts" timeout 120 taskset -c "$CPU_CLIENT" "$root/bin/jqb" bench \
                        --service "$svc" --wait spin --count "$COUNT" --size "$SIZE" --warmup "$WARMUP" \
                        2>"$work/client.err" | grep '^size=') ;;
                    client) line=$(ladder "$CPU_CLIENT" "$opts" client client "$svc" "$SIZE" unsafe "$COUNT" "$WARMUP" \
                        2>"$work/client.err" | grep '^size=') ;;
                    *) line=$(ladder "$CPU_CLIENT" "$opts" client "$(rung "$cli")" "$shm" "$SIZE" "$(copy "$cli")" \
                        "$COUNT" "$WARMUP" 2>"$work/client.err" | grep '^size=') ;;
                esac
                [ -n "$line" ] || { echo "spin-ladder: $name failed:" >&2; cat "$work/client.err" "$work/server.log.err" >&2; }
                # The ring-level servers end by themselves once the client closed its rings; then SIGTERM.
                for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
                stop_pid "$server"
                server=""
                rm -rf "$shm"
                shm=""
                ;;
        esac
        echo "round=$r build=$name $line" | tee -a "$work/results"
    done
done

echo "== medians over $ROUNDS rounds, $SIZE B, COUNT=$COUNT after WARMUP=$WARMUP (and p50 over the first entry's, per round)"
first=${1%%=*}
for e in "$@"; do
    name=${e%%=*}
    p50=$(grep -F "build=$name " "$work/results" | while read -r l; do field "$l" p50_ns; done | median)
    p99=$(grep -F "build=$name " "$work/results" | while read -r l; do field "$l" p99_ns; done | median)
    ratio=$(for rr in $(seq 1 "$ROUNDS"); do
        f=$(field "$(grep -F "round=$rr build=$first " "$work/results")" p50_ns)
        j=$(field "$(grep -F "round=$rr build=$name " "$work/results")" p50_ns)
        [ -n "$f" ] && [ -n "$j" ] && awk -v a="$j" -v b="$f" 'BEGIN { printf "%.2f\n", a / b }'
    done | median)
    echo "$name p50_ns=$p50 p99_ns=$p99 ratio_p50=$ratio"
done

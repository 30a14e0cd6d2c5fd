#!/usr/bin/env bash
# RSS per connection of one long-running server over many rounds (issue 14 item 5): the native libqb server and the
# jqb echo server, each started once and given rounds of N native `qbn-client bench-many` clients (connect, round
# trips, close). Per round: (VmRSS with the N connections open - VmRSS before the round) / N in KiB, with its RssAnon
# and RssShmem parts, and for the jqb server its young collections so far (jstat's YGC). It separates three states
# a one-round figure mixes up: a fresh process (round 1); libqb's malloc reusing the previous round's memory from
# round 2 on, while a JVM reuses its heap's pages only after a young collection has recycled them (until then every
# byte a connect allocates, kept or garbage, lands on a page never touched before); and the JVM after that.
#
# Usage: benchmarks/rss-rounds.sh [AFTER=10] [CLIENTS=1000] [TRANSPORT=socket] [BUILD_DIR=this checkout]
# The native server gets NATIVE_ROUNDS (10) rounds; the jqb server runs until AFTER rounds have followed its first
# young collection, at most MAX_ROUNDS (150). The server is pinned to one vCPU, so its JVM picks the serial collector
# (the JVM's default on one CPU); its young generation is ~100 MB on this VM: ~70 rounds of 1,000 SOCKET connects.
# Knobs: SERVERS ("native jqb"), CPU_SERVER (0), CPU_CLIENT (1), WARMUP_MS (300) + DURATION_MS (200) per round
# (every connection makes round trips before the figure is read: its pages are touched), SECTION_OUT (write the
# Markdown table there; bench-compare.sh puts it under the scale curve), COMMANDS (append the command line there).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
. "$root/benchmarks/lib.sh"

AFTER=${1:-10}
CLIENTS=${2:-1000}
TRANSPORT=${3:-socket}
BUILD=$(cd "${4:-$root}" && pwd)
SERVERS=${SERVERS:-native jqb}
NATIVE_ROUNDS=${NATIVE_ROUNDS:-10}
MAX_ROUNDS=${MAX_ROUNDS:-150}
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
DURATION_MS=${DURATION_MS:-200}
WARMUP_MS=${WARMUP_MS:-300}
NSRV="$root/native/build/qbn-server"
NCLI="$root/native/build/qbn-client"
need_native_word rss-rounds "$NCLI" bench-many
command -v jstat >/dev/null || echo "rss-rounds: no jstat (JDK): the jqb server's young collections are not counted" >&2
raise_fd_limit
export JQB_LOG_LEVEL=${JQB_LOG_LEVEL:-warn}
export JQB_JAVA_OPTS="${JQB_JAVA_OPTS:-} -Djqb.forceFilesystemSocketsFile=/nonexistent/jqb-rss-rounds"

start_work rss-rounds
rounds="$work/rounds.tsv" # server round total anon shmem ygc
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
[ -n "${COMMANDS:-}" ] && echo "benchmarks/rss-rounds.sh $AFTER $CLIENTS $TRANSPORT" >>"$COMMANDS"

echo "# rss-rounds: $CLIENTS $TRANSPORT clients per round, $started, load $load_before"
SVC_PREFIX=jqbrss
declare -A SVC
for srv in $SERVERS; do
    if [ "$srv" = native ]; then
        start_service "$srv" taskset -c "$CPU_SERVER" "$NSRV" --transport "$TRANSPORT"
    else
        start_service "$srv" taskset -c "$CPU_SERVER" "$BUILD/bin/jqb" echo-server --transport "$TRANSPORT"
    fi
    svc=${SVC[$srv]}
    pid=${pids[-1]} # taskset and bin/jqb exec: the server's own pid
    line_out="$srv:"
    base_fds=$(ls "/proc/$pid/fd" | wc -l)
    round=0
    after=0
    while :; do
        round=$((round + 1))
        if [ "$srv" = native ]; then [ "$round" -le "$NATIVE_ROUNDS" ] || break
        else [ "$round" -le "$MAX_ROUNDS" ] && [ "$after" -lt "$AFTER" ] || break; fi
        # The previous round's connections torn down first (the server's fd count back to its idle figure, at most
        # 10 s): otherwise "before" still holds some of their pages and the round's growth reads low.
        for _ in $(seq 1 200); do
            [ "$(ls "/proc/$pid/fd" | wc -l)" -le "$base_fds" ] && break
            sleep 0.05
        done
        idle=$(proc_kb "$pid" VmRSS)
        idle_anon=$(proc_kb "$pid" RssAnon)
        idle_shmem=$(proc_kb "$pid" RssShmem)
        ygc0=-
        if [ "$srv" != native ] && command -v jstat >/dev/null; then
            # YGC is the 7th column from the end of `jstat -gc` (… YGC YGCT FGC FGCT CGC CGCT GCT).
            ygc0=$(jstat -gc "$pid" 2>/dev/null | awk 'NR == 2 { print $(NF - 6) }')
        fi
        line=$(taskset -c "$CPU_CLIENT" "$NCLI" bench-many --service "$svc" --clients "$CLIENTS" \
            --duration-ms "$DURATION_MS" --warmup-ms "$WARMUP_MS" --size 64 --max 8192 --server-pid "$pid" \
            2>"$work/client.err" | grep '^clients=' | tail -1)
        if [ -z "$line" ]; then
            echo "rss-rounds: FAILED round $round against $srv" >&2
            tail -3 "$work/client.err" >&2
            break
        fi
        ygc=-
        if [ "$ygc0" != - ]; then
            ygc=$(jstat -gc "$pid" 2>/dev/null | awk 'NR == 2 { print $(NF - 6) }')
            # A round that began after a young collection counts towards AFTER; the round during which it ran does not.
            [ "${ygc0:-0}" -ge 1 ] 2>/dev/null && after=$((after + 1))
        fi
        per=$(awk -v n="$CLIENTS" -v a="$idle" -v b="$(field "$line" server_rss_kb)" -v aa="$idle_anon" \
            -v ba="$(field "$line" server_anon_kb)" -v as="$idle_shmem" -v bs="$(field "$line" server_shmem_kb)" \
            'BEGIN { printf "%.1f\t%.1f\t%.1f", (b - a) / n, (ba - aa) / n, (bs - as) / n }')
        printf '%s\t%s\t%s\t%s\t%s\n' "$srv" "$round" "$per" "$ygc0" "$ygc" >>"$rounds"
        line_out="$line_out $(echo "$per" | awk -F'\t' '{ printf "%s[%s+%s]", $1, $2, $3 }')$([ "$ygc" != - ] && echo "(y$ygc)")"
    done
    echo "$line_out"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done

# Per server and state: rounds, median total [anon + shmem]. States: round 1 (fresh); native rounds 2..; jqb rounds
# that began and ended with no young collection yet; jqb rounds that began after one.
summary=$(awk -F'\t' -v OFS='\t' '
    function med(a, n,    i, j, t) {
        if (n == 0) return "-"
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return sprintf("%.1f", n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
    }
    function add(key, t, an, sh) { k = ++cnt[key]; T[key, k] = t; A[key, k] = an; S[key, k] = sh; if (!(key in seen)) { seen[key] = 1; order[++nk] = key } }
    {
        if ($2 == 1) state = "fresh process (round 1)"
        else if ($1 == "native") state = "rounds 2-" "N"
        else if ($6 == "-") state = "rounds 2-" "N"
        else if ($6 + 0 == 0 && $7 + 0 == 0) state = "before the first young collection"
        else if ($6 + 0 >= 1) state = "after the first young collection"
        else next # the round during which the collection ran
        add($1 SUBSEP state, $3, $4, $5)
        first[$1 SUBSEP state] = first[$1 SUBSEP state] == "" ? $2 : first[$1 SUBSEP state]
        last[$1 SUBSEP state] = $2
    }
    END {
        for (i = 1; i <= nk; i++) {
            key = order[i]; split(key, f, SUBSEP); n = cnt[key]
            for (k = 1; k <= n; k++) { t[k] = T[key, k]; a[k] = A[key, k]; s[k] = S[key, k] }
            st = f[2]; sub(/N$/, last[key], st)
            if (st ~ /young/) st = st " (rounds " first[key] "-" last[key] ")"
            print f[1], st, n, med(t, n), med(a, n), med(s, n)
            delete t; delete a; delete s
        }
    }' "$rounds")
echo
echo "$summary" | awk -F'\t' '{ printf "  rss %-6s %-50s %3d rounds: %s KiB per connection [%s anon + %s shmem]\n", $1, $2, $3, $4, $5, $6 }'

if [ -n "${SECTION_OUT:-}" ]; then
    {
        echo "**RSS per $TRANSPORT connection of a long-running server** (\`benchmarks/rss-rounds.sh\`: each server started"
        echo "once and given rounds of $CLIENTS \`qbn-client bench-many\` connections, each round's connections torn down"
        echo "before the next; growth of the server's RSS with them open, per connection; medians over the rounds of each"
        echo "state). Measured $started, load average before $load_before."
        echo
        echo "| server | state | rounds | KiB per connection | of which RssAnon | of which RssShmem |"
        echo "|---|---|---:|---:|---:|---:|"
        echo "$summary" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1 == "jqb" ? "jqb" : "native (libqb)", $2, $3, $4, $5, $6 }'
        echo
        echo "RssShmem is the connection's control file, which both servers map (libqb's wire). A JVM reuses a heap page"
        echo "only once a young collection has emptied it, so until its first one every byte a connect allocates lands on a"
        echo "fresh page; libqb's \`malloc\` reuses the last round's memory at once (the notes, \"round after round\")."
    } >"$SECTION_OUT"
fi

#!/usr/bin/env bash
# libipc echo round trips: jqb (io.jqb.libipc, bin/jqb libipc-*) and the C libipc wire peer (native/build/libipc-peer,
# plain sockets), every pairing (jqb<->jqb, C client->jqb server, jqb client->C server, C<->C), pinned to one vCPU
# (server and client both on CPU_PINNED) and split (server on CPU_SERVER, client on CPU_CLIENT).
# Writes a Markdown section into docs/PERFORMANCE.md between <!-- libipc-compare:begin --> and
# <!-- libipc-compare:end --> (appended when the markers are missing).
#
# Knobs (environment): COUNT (100000 round trips per run), WARMUP (20000), SIZES ("0 64 4096"), ROUNDS (5; in every
# round the four pairings run one after the other, so a change of machine load hits them alike; reported: the median
# of the rounds' p50 and msgs/s, and the median of the PER-ROUND ratios p50 / that round's C<->C p50),
# CPU_PINNED (0), CPU_SERVER (0), CPU_CLIENT (1),
# OUT (docs/PERFORMANCE.md), SECTION_OUT (write the section there instead of splicing it into OUT), SYSCALLS (1: also
# count the system calls per echo of each client and server with strace -c, untimed; 0: skip; skipped without strace).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
# shellcheck source=benchmarks/lib.sh
source benchmarks/lib.sh

COUNT=${COUNT:-100000}
WARMUP=${WARMUP:-20000}
SIZES=${SIZES:-"0 64 4096"}
ROUNDS=${ROUNDS:-5}
CPU_PINNED=${CPU_PINNED:-0}
CPU_SERVER=${CPU_SERVER:-0}
CPU_CLIENT=${CPU_CLIENT:-1}
OUT=${OUT:-docs/PERFORMANCE.md}
SYSCALLS=${SYSCALLS:-1}
command -v strace >/dev/null || SYSCALLS=0
jqb="$here/bin/jqb"
peer="$here/native/build/libipc-peer"
[ -x "$peer" ] && [ -f target/jqb.jar ] || { echo "libipc-compare: run 'make' first" >&2; exit 2; }
command -v taskset >/dev/null || { echo "libipc-compare: taskset (util-linux) is needed" >&2; exit 2; }

work=$(mktemp -d)
export IPC_RUNDIR="$work/ipc"
mkdir -p "$IPC_RUNDIR"
spids=()
cleanup() {
    for p in "${spids[@]}"; do stop_pid "$p"; done
    rm -rf "$work"
}
trap cleanup EXIT

# client KIND CPU NAME SIZE: one bench run; prints its result line.
client() {
    local kind=$1 cpu=$2 name=$3 size=$4
    if [ "$kind" = jqb ]; then
        JQB_LOG_LEVEL=warn taskset -c "$cpu" "$jqb" libipc-bench "$name" --count "$COUNT" --size "$size" \
            --warmup "$WARMUP" | grep '^size='
    else
        taskset -c "$cpu" "$peer" bench "$name" --count "$COUNT" --size "$size" --warmup "$WARMUP" | grep '^size='
    fi
}

rows="$work/rows"
: >"$rows"
sc_rows="$work/syscalls"
: >"$sc_rows"

# io_calls FILE: "name count" of the I/O system calls in an strace -c summary (calls is column 4 in every row).
io_calls() {
    awk '$NF ~ /^(read|write|recvfrom|sendto|recvmsg|sendmsg|readv|writev|epoll_wait|epoll_pwait|poll|ppoll|select|pselect6)$/ \
        { print $NF, $4 }' "$1"
}

# per_echo A B N: "name=x.xx ..." of (counts in B - counts in A) / N, largest first; A may be /dev/null.
per_echo() {
    awk -v n="$3" 'FNR == NR { a[$1] = $2; next } { d = ($2 - a[$1]) / n; if (d >= 0.05) printf "%s %.2f\n", $1, d }' \
        <(echo "- 0"; io_calls "$1") <(io_calls "$2") | sort -k2,2gr | awk '{ printf "%s%s ×%s", sep, $1, $2; sep = ", " }'
}

# calls_row SIZE SIDE KIND: the counted calls of one row of $sc_rows
calls_row() {
    awk -v s="$1" -v d="$2" -v k="$3" '$1 == s && $2 == d && $3 == k {
        out = ""; for (i = 4; i <= NF; i++) out = out (i > 4 ? " " : "") $i; print out }' "$sc_rows"
}

# syscalls SIZE JNAME CNAME JPID CPID: one table row per side and kind (what each client and server calls per echo).
syscalls() {
    local size=$1 jname=$2 cname=$3 jpid=$4 cpid=$5 k n1=1000 n2=11000
    for k in jqb c; do
        # a client: the difference between a long and a short run (start-up and exit cancel out)
        if [ "$k" = jqb ]; then
            for n in $n1 $n2; do
                JQB_LOG_LEVEL=warn strace -f -c -o "$work/sc.$n" "$jqb" libipc-bench "$cname" --count "$n" \
                    --size "$size" --warmup 0 >/dev/null 2>&1 || true
            done
        else
            for n in $n1 $n2; do
                strace -f -c -o "$work/sc.$n" "$peer" bench "$cname" --count "$n" --size "$size" --warmup 0 \
                    >/dev/null 2>&1 || true
            done
        fi
        echo "$size client $k $(per_echo "$work/sc.$n1" "$work/sc.$n2" $((n2 - n1)))" >>"$sc_rows"
    done
    for k in jqb c; do
        # a server: strace attached to every thread for one C client run of n2 echoes
        local pid name args=()
        if [ "$k" = jqb ]; then pid=$jpid; name=$jname; else pid=$cpid; name=$cname; fi
        for t in /proc/"$pid"/task/*; do args+=(-p "${t##*/}"); done
        strace -f -c -o "$work/sc.srv" "${args[@]}" 2>"$work/sc.srv.err" &
        local spid=$!
        for _ in $(seq 1 100); do grep -q attached "$work/sc.srv.err" 2>/dev/null && break; sleep 0.1; done
        "$peer" bench "$name" --count "$n2" --size "$size" --warmup 0 >/dev/null 2>&1 || true
        kill -INT "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true
        echo "$size server $k $(per_echo /dev/null "$work/sc.srv" "$n2")" >>"$sc_rows"
    done
}
for layout in pinned split; do
    if [ "$layout" = pinned ]; then scpu=$CPU_PINNED; ccpu=$CPU_PINNED; else scpu=$CPU_SERVER; ccpu=$CPU_CLIENT; fi
    jname="lbj-$$-$layout"; cname="lbc-$$-$layout"
    JQB_LOG_LEVEL=warn taskset -c "$scpu" "$jqb" libipc-echo-server "$jname" >"$work/j.log" 2>"$work/j.log.err" &
    jpid=$!; spids+=("$jpid")
    taskset -c "$scpu" "$peer" echo-server "$cname" >"$work/c.log" 2>"$work/c.log.err" </dev/null &
    cpid=$!; spids+=("$cpid")
    wait_ready "$work/j.log" "$jpid" "jqb libipc-echo-server"
    wait_ready "$work/c.log" "$cpid" "libipc-peer echo-server"
    # Warm the jqb server's JIT at every size before anything is measured against it (otherwise the first run of a
    # size pays that size's compilations, on the same CPU in the pinned layout).
    for ws in $SIZES; do client c "$ccpu" "$jname" "$ws" >/dev/null; done
    for size in $SIZES; do
        runs="$work/runs"
        : >"$runs"
        for r in $(seq 1 "$ROUNDS"); do
            for pair in "jqb:jqb:$jname" "C:jqb:$jname" "jqb:C:$cname" "C:C:$cname"; do
                ck=${pair%%:*}; rest=${pair#*:}; sk=${rest%%:*}; name=${rest#*:}
                line=$(client "$([ "$ck" = jqb ] && echo jqb || echo c)" "$ccpu" "$name" "$size") || line=""
                if [ -z "$line" ]; then
                    echo "libipc-compare: $ck client -> $sk server, $size B, $layout: failed" >&2
                    echo "$r $ck $sk - -" >>"$runs"
                    continue
                fi
                echo "$r $ck $sk $(field "$line" p50_ns) $(field "$line" msgs_per_s)" >>"$runs"
            done
        done
        for pair in "jqb:jqb" "C:jqb" "jqb:C" "C:C"; do
            ck=${pair%%:*}; sk=${pair#*:}
            p50=$(awk -v c="$ck" -v s="$sk" '$2 == c && $3 == s { print $4 }' "$runs" | median)
            rate=$(awk -v c="$ck" -v s="$sk" '$2 == c && $3 == s { print $5 }' "$runs" | median)
            # per round: this pairing's p50 / the same round's C<->C p50
            ratio=$(awk -v c="$ck" -v s="$sk" '$2 == "C" && $3 == "C" && $4 != "-" { base[$1] = $4 }
                $2 == c && $3 == s && $4 != "-" { p[$1] = $4 }
                END { for (r in p) if (r in base) printf "%.4f\n", p[r] / base[r] }' "$runs" | median)
            echo "$layout $size $ck $sk ${p50:--} ${rate:--} ${ratio:--}" >>"$rows"
            echo "libipc-compare: $layout $size B $ck->$sk p50 ${p50:--} ns, ${rate:--} msg/s, ${ratio:--}x C<->C" >&2
        done
    done
    if [ "$layout" = pinned ] && [ "$SYSCALLS" = 1 ]; then
        for size in $SIZES; do syscalls "$size" "$jname" "$cname" "$jpid" "$cpid"; done
    fi
    stop_pid "$jpid"; stop_pid "$cpid"
    spids=()
done

section="$work/section.md"
{
    echo "## libipc: jqb and the C wire peer (echo round trips)"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) vCPUs, load average at the end:" \
        "$(cut -d' ' -f1-3 /proc/loadavg). $COUNT lock-step DATA round trips per run after $WARMUP warm-up ones," \
        "$ROUNDS rounds; in each round the four pairings run one after the other. p50 and msgs/s: medians over the" \
        "rounds; *p50 vs C↔C*: the median over the rounds of each round's p50 / the same round's C↔C p50. *pinned*: server and client on CPU $CPU_PINNED (\`taskset -c $CPU_PINNED\` both);" \
        "*split*: server on CPU $CPU_SERVER, client on CPU $CPU_CLIENT. The C peer (\`native/build/libipc-peer\`)" \
        "is a plain-sockets libipc 33cd215 wire peer written from the protocol document: poll() loop, exact" \
        "framing, one send per frame; it does not malloc 8 MB per read as C libipc does, so it is a faster" \
        "baseline than libipc itself. Every echo is checked byte for byte by both clients."
    echo
    echo "| layout | size | client → server | p50 µs | msgs/s | p50 vs C↔C |"
    echo "|---|---:|---|---:|---:|---:|"
    while read -r layout size ck sk p50 rate r; do
        ratio="-"
        [ "$r" = "-" ] || ratio=$(awk -v a="$r" 'BEGIN { printf "%.2f×", a }')
        p50us="-"; [ "$p50" = "-" ] || p50us=$(awk -v a="$p50" 'BEGIN { printf "%.1f", a / 1000 }')
        ratefmt="-"; [ "$rate" = "-" ] || ratefmt=$(printf '%.0f' "$rate")
        echo "| $layout | $size B | $ck → $sk | $p50us | $ratefmt | $ratio |"
    done <"$rows"
    if [ -s "$sc_rows" ]; then
        echo
        echo "System calls per echo (I/O calls only; \`strace -f -c\`, untimed, $((11000 - 1000)) echoes: a client by" \
            "the difference between runs of 11000 and 1000, so start-up cancels out; a server attached to all its" \
            "threads while the C client runs 11000):"
        echo
        echo "| size | side | C peer | jqb |"
        echo "|---:|---|---|---|"
        for size in $SIZES; do
            for side in client server; do
                c=$(calls_row "$size" "$side" c)
                j=$(calls_row "$size" "$side" jqb)
                echo "| $size B | $side | $c | $j |"
            done
        done
    fi
    echo
    echo "Regenerate: \`make bench-libipc\` (= \`benchmarks/libipc-compare.sh\`; knobs COUNT, WARMUP, SIZES, ROUNDS," \
        "CPU_PINNED, CPU_SERVER, CPU_CLIENT). Commands per run:"
    echo
    echo '```'
    echo "taskset -c S bin/jqb libipc-echo-server NAME            |  taskset -c S native/build/libipc-peer echo-server NAME"
    echo "taskset -c C bin/jqb libipc-bench NAME --count $COUNT --size SIZE --warmup $WARMUP"
    echo "taskset -c C native/build/libipc-peer bench NAME --count $COUNT --size SIZE --warmup $WARMUP"
    echo '```'
} >"$section"

if [ -n "${SECTION_OUT:-}" ]; then
    cp "$section" "$SECTION_OUT"
else
    splice_section "$OUT" libipc-compare "$section"
    echo "libipc-compare: wrote the libipc section of $OUT" >&2
fi
cat "$section"

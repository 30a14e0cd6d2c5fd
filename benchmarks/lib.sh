# Helpers shared by the benchmark scripts (sourced, not run).

# field LINE KEY: the value of KEY=value in a line of key=value words ("" when absent).
field() {
    local kv
    for kv in $1; do
        case "$kv" in "$2="*) echo "${kv#*=}"; return ;; esac
    done
    echo ""
}

# median: the median of the numbers on stdin, one per line ("-" lines ignored; "-" when none).
median() {
    grep -v '^-$' | sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# ensure_gnuplot: gnuplot on the PATH, installing Debian's gnuplot-nox when missing and possible (root or sudo).
# Returns non-zero (charts are then skipped) when it cannot.
ensure_gnuplot() {
    command -v gnuplot >/dev/null && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || return 1
        sudo="sudo -n"
    fi
    command -v apt-get >/dev/null || return 1
    echo "bench: installing gnuplot-nox for the charts" >&2
    $sudo apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gnuplot-nox >/dev/null 2>&1
    command -v gnuplot >/dev/null
}

# wait_ready LOG PID WHAT: until LOG contains "ready" (a server's start-up line); exits if PID dies or 60 s pass.
wait_ready() {
    for _ in $(seq 1 600); do
        grep -q ready "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: $3 did not start:" >&2
    cat "$1" "$1.err" >&2 2>/dev/null
    exit 1
}

# stop_pid PID: SIGTERM (after SIGCONT, in case it was stopped), up to 10 s, then SIGKILL; reaps it.
stop_pid() {
    kill -CONT "$1" 2>/dev/null
    kill -TERM "$1" 2>/dev/null
    reap_pid "$1"
}

# reap_pid PID: waits up to 10 s for PID (already sent SIGTERM) to end, then SIGKILLs it; reaps it.
reap_pid() {
    local p=$1
    for _ in $(seq 1 100); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$p" 2>/dev/null; then
        echo "bench: pid $p ignored SIGTERM; killing it" >&2
        kill -KILL "$p" 2>/dev/null
    fi
    wait "$p" 2>/dev/null
}

# proc_kb PID KEY: a "KEY: N kB" (or plain number) field of /proc/PID/status.
proc_kb() {
    awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status" 2>/dev/null
}

# splice_section FILE NAME CONTENT_FILE: replace what is between <!-- NAME:begin --> and <!-- NAME:end --> in FILE
# with CONTENT_FILE's lines (markers kept); appends the marked section when FILE has no markers.
splice_section() {
    local file=$1 name=$2 content=$3 tmp
    tmp="$file.splice.$$"
    if grep -q "^<!-- $name:begin -->" "$file" 2>/dev/null; then
        awk -v b="<!-- $name:begin -->" -v e="<!-- $name:end -->" -v c="$content" '
            $0 == b { print; while ((getline l < c) > 0) print l; skip = 1; next }
            $0 == e { skip = 0 }
            !skip { print }' "$file" >"$tmp"
    else
        { cat "$file" 2>/dev/null; echo; echo "<!-- $name:begin -->"; cat "$content"; echo "<!-- $name:end -->"; } >"$tmp"
    fi
    mv "$tmp" "$file"
}

# log_cmd WORDS...: appends the command line to $COMMANDS (the file recording how the figures were made) when set.
log_cmd() { [ -n "$COMMANDS" ] && echo "$*" >>"$COMMANDS"; return 0; }

# cleanup_work: the EXIT trap of a script that keeps its servers' pids in pids=() and its files in $work: stops each
# server (stop_pid), removes $work, keeps the script's exit status.
cleanup_work() {
    local rc=$? p
    for p in "${pids[@]}"; do stop_pid "$p"; done
    rm -rf "$work"
    exit $rc
}

# start_work NAME: the prologue of a script whose servers cleanup_work stops: $work a new directory
# /tmp/jqb-NAME.XXXXXX, pids=() empty, cleanup_work as the EXIT trap, and SIGINT/SIGTERM ending the script with
# status 130 (through that trap).
start_work() {
    work=$(mktemp -d "/tmp/jqb-$1.XXXXXX")
    pids=()
    trap cleanup_work EXIT
    trap 'exit 130' INT TERM
}

# cleanup_server_probe: the EXIT trap of a script that runs one server at a time ($server) and at most one qbn-regime
# probe ($probe), each "" when none runs: stops both, removes $work.
cleanup_server_probe() {
    [ -n "$server" ] && stop_pid "$server"
    [ -n "$probe" ] && kill "$probe" 2>/dev/null && wait "$probe" 2>/dev/null
    rm -rf "$work"
}

# need_native WHO PROGRAM: exits 2, saying "WHO: PROGRAM missing: run 'make native'", unless PROGRAM (one of
# native/build's) is there.
need_native() {
    [ -x "$2" ] || { echo "$1: $2 missing: run 'make native'" >&2; exit 2; }
}

# need_native_word WHO PROGRAM WORD: exits 2, saying "WHO: PROGRAM has no WORD; run 'make native'", unless PROGRAM's
# --help mentions WORD (a mode or an option that an older build of native/ lacks).
need_native_word() {
    "$2" --help 2>&1 | grep -q -- "$3" || { echo "$1: $2 has no $3; run 'make native'" >&2; exit 2; }
}

# need_root WHO WHY: exits 2, saying "WHO: WHY", unless run as root.
need_root() {
    [ "$(id -u)" = 0 ] || { echo "$1: $2" >&2; exit 2; }
}

# raise_fd_limit: the soft limit of open files up to the hard one (every client connection holds descriptors on both
# ends); left as it is where that fails.
raise_fd_limit() {
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

# start_service KEY COMMAND...: runs COMMAND --service NAME in the background (NAME = $SVC_PREFIX-<this pid>-KEY),
# waits for its ready line, records its pid in pids=() (stopped by cleanup_work) and NAME in SVC[KEY]. The caller
# sets $work, $SVC_PREFIX, pids=() and `declare -A SVC`.
start_service() {
    local key=$1 log="$work/$1.log"
    shift
    local svc="$SVC_PREFIX-$$-$key"
    "$@" --service "$svc" >"$log" 2>"$log.err" </dev/null &
    pids+=($!)
    wait_ready "$log" "$!" "$key"
    SVC[$key]=$svc
}

# start_bus DIR WHO: a private dbus-daemon (session type, listening in DIR, limits raised far above what the notify
# benchmarks send) forked with its config in DIR/bus.conf; sets bus_pid and bus_addr. WHO names the caller in errors.
start_bus() {
    cat >"$1/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$1</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">1000000000</limit>
</busconfig>
CONF
    dbus-daemon --config-file="$1/bus.conf" --print-address=3 --print-pid=4 --fork 3>"$1/bus.addr" \
        4>"$1/bus.pid" || { echo "$2: dbus-daemon did not start" >&2; exit 1; }
    bus_pid=$(head -1 "$1/bus.pid")
    bus_addr=$(head -1 "$1/bus.addr")
}

# stamp_result: passes its input on, appending end_ms=<wall-clock ms of arrival> to the result line (size=...).
stamp_result() {
    local l
    while IFS= read -r l; do
        case "$l" in size=*) echo "$l end_ms=$(date +%s%3N)" ;; *) echo "$l" ;; esac
    done
}

# regime_of LINE PROBE_OUT: the CPUs' regime during LINE's timed round trips (count / msgs_per_s before its end_ms,
# see stamp_result), from the bursts of `qbn-regime --series` in PROBE_OUT: f, n or s when at least 80 % of those
# bursts were in that level (median < 100 ns, < 300 ns, else), "mixed", or "none" (no burst, no end_ms).
regime_of() {
    grep '^series' "$2" 2>/dev/null | awk -v end="$(field "$1" end_ms)" -v n="$(field "$1" count)" \
        -v rate="$(field "$1" msgs_per_s)" '{
            if (end == "" || rate <= 0) { print "none"; exit }
            from = end - n * 1000 / rate - 2
            for (i = 2; i <= NF; i++) { split($i, a, ":"); if (a[1] < from || a[1] > end) continue
                k++; if (a[2] < 100) f++; else if (a[2] < 300) m++; else s++ }
            if (k == 0) r = "none"; else if (f * 5 >= k * 4) r = "f"; else if (m * 5 >= k * 4) r = "n"
            else if (s * 5 >= k * 4) r = "s"; else r = "mixed"
            print r }
        END { if (NR == 0) print "none" }'
}

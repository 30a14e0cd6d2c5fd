#!/usr/bin/env bash
# Allocation on the hot paths (issue 14, item 8): the JMH benchmarks of the send/receive paths in benchmarks/java,
# run with `-prof gc`, one JMH run, ns/op and gc.alloc.rate.norm (B/op) per benchmark and parameter set:
#   RingBenchmark.writeRead             (ShmRing write, try-wait, validate, read(handler), reclaim)  64 B, 4 KiB
#   SemaphoreBenchmark.postTryWait      (SharedSemaphore post + tryWait, uncontended)
#   SemaphoreBenchmark.pingPong         (two threads, futex sleep and wake each way)
#   DoorbellBenchmark.requestWithDoorbell (SHM request + doorbell datagram, read back)                64 B
#   InJvmRoundTripBenchmark.echo        (jqb Client <-> jqb Service in one JVM: client and server side)
#                                        SHM and SOCKET, 64 B and 4 KiB, both ends blocking and both spinning
# `-prof gc` divides the bytes allocated by EVERY thread of the JVM during an iteration by its operations, so the
# figure is only meaningful with many operations per iteration: the table gives ops per iteration beside B/op, and
# marks a row whose ops are too few (< MIN_OPS) to resolve a few hundred bytes of JMH's own background allocation.
# Measured here: ~40-50 KiB per 2 s iteration whatever the benchmark (JMH, a GC or timer now and then), i.e.
# 0.3-0.5 B/op at 100,000 round trips per iteration but ~2 B/op at 20,000: a row under 16 B/op (the smallest
# object) whose B/op x ops stays within BACKGROUND bytes per iteration is reported as that background.
# Writes a Markdown section into docs/PERFORMANCE.md between <!-- jmh-gc:begin --> and <!-- jmh-gc:end -->
# (appended when the markers are missing; bench-compare.sh runs this script and keeps the section).
#
# Knobs (environment): WI (warm-up iterations, 2), I (measurement iterations, 3), R (seconds per iteration, 2),
# MIN_OPS (20000), BACKGROUND (65536), GC_SKIP_SPIN (1 = leave out the spinning round trips), OUT
# (docs/PERFORMANCE.md), SECTION_OUT (write the section there instead of splicing it into OUT).
# Run it as `make bench-gc` (builds the JMH class path first). ~2-3 minutes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
# shellcheck source=benchmarks/lib.sh
source benchmarks/lib.sh

WI=${WI:-2}
I=${I:-3}
R=${R:-2}
MIN_OPS=${MIN_OPS:-20000}
BACKGROUND=${BACKGROUND:-65536}
GC_SKIP_SPIN=${GC_SKIP_SPIN:-0}
OUT=${OUT:-docs/PERFORMANCE.md}
[ -f target/test.cp ] && [ -f target/test-classes/META-INF/BenchmarkList ] \
    || { echo "jmh-gc: run it as 'make bench-gc' (builds the JMH class path)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "jmh-gc: python3 is needed to read JMH's JSON" >&2; exit 2; }

work=$(mktemp -d)
pids=()
trap cleanup_work EXIT
# A copy of the classes: a build in this tree while JMH runs (it takes minutes) would pull them from under it.
cp -r target/classes "$work/classes"
cp -r target/test-classes "$work/test-classes"
cp="$work/test-classes:$work/classes:$(cat target/test.cp)"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
cmds=()
# jmh JSON ARGS...: one JMH run (average time only, one fork), its JSON result in $work/JSON.
jmh() {
    local json=$1
    shift
    cmds+=("java -cp target/test-classes:target/classes:\$(cat target/test.cp) org.openjdk.jmh.Main -prof gc -bm avgt -f 1 -wi $WI -i $I -w $R -r $R $*")
    echo "jmh-gc: $*" >&2
    java -cp "$cp" org.openjdk.jmh.Main -prof gc -bm avgt -f 1 -wi "$WI" -i "$I" -w "$R" -r "$R" \
        -rf json -rff "$work/$json" "$@" >"$work/$json.log" 2>&1 \
        || { echo "jmh-gc: JMH failed, see below" >&2; tail -30 "$work/$json.log" >&2; exit 1; }
}
jmh ring.json -p size=64,4096 'RingBenchmark.writeRead'
jmh sem.json 'SemaphoreBenchmark'
jmh doorbell.json 'DoorbellBenchmark'
jmh injvm-block.json -p transport=SHM,SOCKET -p size=64,4096 -p wait=block 'InJvmRoundTripBenchmark.echo'
if [ "$GC_SKIP_SPIN" != 1 ]; then
    jmh injvm-spin.json -p transport=SHM,SOCKET -p size=64,4096 -p wait=spin 'InJvmRoundTripBenchmark.echo'
fi

python3 - "$work" "$MIN_OPS" "$R" "$BACKGROUND" >"$work/table.md" <<'EOF'
import glob, json, sys
work, min_ops, secs, bg = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
unit_ns = {"ns/op": 1.0, "us/op": 1e3, "ms/op": 1e6, "s/op": 1e9}
def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")
print("| benchmark | params | ns/op | ops per iteration | B/op (gc.alloc.rate.norm) | per-op allocation |")
print("|---|---|---:|---:|---:|---|")
for f in ("ring", "sem", "doorbell", "injvm-block", "injvm-spin"):
    for path in glob.glob(f"{work}/{f}.json"):
        for b in json.load(open(path)):
            name = ".".join(b["benchmark"].rsplit(".", 2)[1:])
            params = ", ".join(f"{k}={v}" for k, v in b.get("params", {}).items()) or "-"
            pm = b["primaryMetric"]
            ns = num(pm["score"]) * unit_ns.get(pm["scoreUnit"], float("nan"))
            threads = b.get("threads", 1)
            # average time per op per thread: ops per iteration of the whole benchmark = threads * secs / time
            ops = threads * secs * 1e9 / ns if ns > 0 else 0
            sec = b["secondaryMetrics"]  # JMH 1.37: "gc.alloc.rate.norm"; older: "·gc.alloc.rate.norm"
            norm = sec.get("gc.alloc.rate.norm", sec.get("·gc.alloc.rate.norm"))
            if norm is None:
                alloc, verdict = "n/a", "n/a"
            else:
                # JMH writes "NaN" (a string) as the error of a single measured iteration.
                norm = {k: num(norm.get(k)) for k in ("score", "scoreError")}
                alloc = f"{norm['score']:.3f} ± {norm['scoreError']:.3f}" if norm["scoreError"] == norm["scoreError"] \
                    else f"{norm['score']:.3f}"
                # The smallest Java object is 16 bytes: an allocation on every operation shows as >= 16 B/op.
                per_iter = norm["score"] * ops
                if ops < min_ops:
                    verdict = f"unresolved: too few ops (< {min_ops})"
                elif norm["score"] < 1:
                    verdict = "none"
                elif norm["score"] < 16 and per_iter <= bg:
                    verdict = f"none: {per_iter / 1024:.0f} KiB per iteration, the background level"
                else:
                    verdict = "**ALLOCATES**" if norm["score"] >= 8 else "check (1-8 B/op: not every op)"
            print(f"| {name} | {params} | {ns:,.1f} | {ops:,.0f} | {alloc} | {verdict} |")
EOF
section="$work/section.md"
{
    echo "## Allocation on the hot paths (JMH \`-prof gc\`)"
    echo
    echo "Measured $started at $(git rev-parse --short HEAD) on $(nproc) vCPUs, load average at the end:" \
        "$(cut -d' ' -f1-3 /proc/loadavg) (ns/op depend on the load; B/op do not, given enough ops per iteration)." \
        "One fork per benchmark, $WI × $R s warm-up, $I × $R s measured, average-time mode. \`-prof gc\` counts the" \
        "bytes allocated by every thread of the JVM (for \`InJvmRoundTripBenchmark\`: the client thread and the" \
        "service's loop thread) divided by the operations: 0 B/op means neither side allocates per message. The" \
        "smallest Java object is 16 bytes, so an allocation per operation shows as ≥ 16 B/op; below 1 B/op (*none*)" \
        "is JMH's own background allocation and the rare event (a timer, a GC) spread over the operations, ~40-50 KiB" \
        "per iteration whatever the benchmark (*none: N KiB per iteration*: that level, at fewer operations)." \
        "*spin*: both ends busy-spin" \
        "(\`-p wait=spin\`), two spinners in one JVM, so on a loaded 2-vCPU machine they get few operations done."
    echo
    cat "$work/table.md"
    echo
    echo "Regenerate: \`make bench-gc\` (= \`benchmarks/jmh-gc.sh\`; knobs WI, I, R, MIN_OPS, BACKGROUND, GC_SKIP_SPIN). The" \
        "exact per-message figure for the spinning paths is pinned by a test instead: \`WritePtDetectTest.spinningRoundTripsAllocateNothing\`" \
        "(ThreadMXBean of the client and the loop thread over 20,000 spinning echoes, bound 64 KiB, 0 bytes measured). Ran:"
    echo
    echo '```'
    printf '%s\n' "${cmds[@]}"
    echo '```'
} >"$section"

if [ -n "${SECTION_OUT:-}" ]; then
    cp "$section" "$SECTION_OUT"
else
    splice_section "$OUT" jmh-gc "$section"
    echo "jmh-gc: wrote the allocation section of $OUT" >&2
fi
cat "$section"

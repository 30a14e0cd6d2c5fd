#!/usr/bin/env bash
# A/B of the ring's two memory APIs for payload copies (issue 9, item 13 "fewer memory APIs"): the old way, a direct
# ByteBuffer over the data area (jffi MemoryIO) and ByteBuffer.put(int, ByteBuffer, int, int), against the new one,
# PointerStore.write/read(long, ByteBuffer, int, int) (bounds check + one Unsafe copyMemory); plus the ring's whole
# write + read(handler) cycle (RingBenchmark). JMH with -prof gc, ROUNDS runs (old and new alternate run by run:
# each JMH run measures both), the median of the rounds' scores per cell.
# Writes a Markdown section into docs/PERFORMANCE.md between <!-- ring-memory-ab:begin --> and
# <!-- ring-memory-ab:end --> (appended when the markers are missing).
#
# Knobs (environment): ROUNDS (3), WI (warm-up iterations, 3), I (measurement iterations, 5), OUT
# (docs/PERFORMANCE.md), SECTION_OUT (write the section there instead of splicing it into OUT).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
# shellcheck source=benchmarks/lib.sh
source benchmarks/lib.sh

ROUNDS=${ROUNDS:-3}
WI=${WI:-3}
I=${I:-5}
OUT=${OUT:-docs/PERFORMANCE.md}
[ -f target/test.cp ] && [ -f target/test-classes/META-INF/BenchmarkList ] \
    || { echo "ring-memory-ab: run it as 'make bench-ring-memory' (builds the JMH class path)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "ring-memory-ab: python3 is needed to read JMH's JSON" >&2; exit 2; }

work=$(mktemp -d)
pids=()
trap cleanup_work EXIT
cp="target/test-classes:target/classes:$(cat target/test.cp)"
# One JMH run per cell (size x kind): its old and new benchmarks run back to back, seconds apart, so a loaded
# machine's drift hits both alike; the next round repeats every cell.
jmh() {
    java -cp "$cp" org.openjdk.jmh.Main -prof gc -wi "$WI" -i "$I" -w 1 -r 1 -rf json -rff "$1" "${@:2}" \
        >"$1.log" 2>&1 || { echo "ring-memory-ab: JMH failed, see below" >&2; tail -30 "$1.log" >&2; exit 1; }
}
for r in $(seq 1 "$ROUNDS"); do
    echo "ring-memory-ab: round $r of $ROUNDS" >&2
    for size in 64 4096 65536; do
        for kind in direct heap; do
            jmh "$work/r$r-$size-$kind.json" -p size="$size" -p kind="$kind" 'RingCopyBenchmark'
        done
    done
    jmh "$work/r$r-ring.json" 'RingBenchmark'
done

section="$work/section.md"
python3 - "$work" "$ROUNDS" >"$work/table.md" <<'EOF'
import json, statistics, sys
import glob
work, rounds = sys.argv[1], int(sys.argv[2])
cells = {}
for f in sorted(glob.glob(f"{work}/r*.json")):
    for b in json.load(open(f)):
        name = b["benchmark"].rsplit(".", 1)[1]
        cls = b["benchmark"].rsplit(".", 2)[1]
        p = b.get("params", {})
        key = (cls, p.get("size", ""), p.get("kind", "direct"), name)
        sec = b["secondaryMetrics"]  # JMH 1.37 names it "gc.alloc.rate.norm", older ones "·gc.alloc.rate.norm"
        alloc = sec.get("gc.alloc.rate.norm", sec.get("·gc.alloc.rate.norm", {})).get("score", float("nan"))
        cells.setdefault(key, []).append((b["primaryMetric"]["score"], alloc))
def med(key, i):
    v = [x[i] for x in cells.get(key, [])]
    return statistics.median(v) if v else float("nan")
print("| caller's buffer | size | copy | old: ByteBuffer view ns/op | new: PointerStore ns/op | new/old | B/op old, new |")
print("|---|---:|---|---:|---:|---:|---|")
sizes = sorted({k[1] for k in cells if k[0] == "RingCopyBenchmark"}, key=int)
for kind in ("direct", "heap"):
    for size in sizes:
        for way in ("In", "Out"):
            old = ("RingCopyBenchmark", size, kind, "view" + "Copy" + way)
            new = ("RingCopyBenchmark", size, kind, "store" + "Copy" + way)
            o, n = med(old, 0), med(new, 0)
            print(f"| {kind} | {size} B | {'into the ring' if way == 'In' else 'out of the ring'} | {o:.1f} | "
                  f"{n:.1f} | {n / o:.2f} | {med(old, 1):.0f}, {med(new, 1):.0f} |")
print()
print("Whole cycle on the new code (`RingBenchmark.writeRead`: write, try-wait, validate, copy out through "
      "`read(handler)`, reclaim):")
print()
print("| size | ns/op | B/op |")
print("|---:|---:|---:|")
for key in sorted((k for k in cells if k[0] == "RingBenchmark"), key=lambda k: int(k[1])):
    print(f"| {key[1]} B | {med(key, 0):.1f} | {med(key, 1):.0f} |")
EOF
{
    echo "## Ring memory API: ByteBuffer view vs PointerStore (JMH A/B)"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') at $(git rev-parse --short HEAD) on $(nproc) vCPUs, load average" \
        "at the end: $(cut -d' ' -f1-3 /proc/loadavg). Median of $ROUNDS rounds; per round one JMH run per cell" \
        "(size × caller's buffer) measures old and new back to back ($WI × 1 s warm-up, $I × 1 s measured, 1 fork" \
        "each, \`-prof gc\`), on the same native memory." \
        "*old*: the direct ByteBuffer over the ring's data area that \`ShmRing\` used for payload copies" \
        "(\`ByteBuffer.put(int, ByteBuffer, int, int)\`); *new*: \`PointerStore.write/read(long, ByteBuffer, int," \
        "int)\`, which \`ShmRing\` now uses for every access."
    echo
    cat "$work/table.md"
    echo
    echo "Regenerate: \`make bench-ring-memory\` (= \`benchmarks/ring-memory-ab.sh\`; knobs ROUNDS, WI, I). Per round and cell:"
    echo
    echo '```'
    echo "java -cp target/test-classes:target/classes:\$(cat target/test.cp) org.openjdk.jmh.Main -prof gc -wi $WI -i $I -w 1 -r 1 -p size=SIZE -p kind=KIND RingCopyBenchmark"
    echo "java -cp target/test-classes:target/classes:\$(cat target/test.cp) org.openjdk.jmh.Main -prof gc -wi $WI -i $I -w 1 -r 1 RingBenchmark"
    echo '```'
} >"$section"

if [ -n "${SECTION_OUT:-}" ]; then
    cp "$section" "$SECTION_OUT"
else
    splice_section "$OUT" ring-memory-ab "$section"
    echo "ring-memory-ab: wrote the ring memory section of $OUT" >&2
fi
cat "$section"

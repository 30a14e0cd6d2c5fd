package io.jqb.ops;

import io.jqb.ops.internal.RingFiles;
import io.jqb.ops.internal.RingTracker;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Measures messages/s and bytes/s per ring of every SHM connection on the host (what {@code jqb top} shows),
 * read-only, from the ring headers' write pointers.
 *
 * <p>Each {@link #measure} takes the connections of a host scan ({@link Discovery#scan()}; the previous interval's
 * closing scan after the first), then samples every ring's write_pt every {@link #TICK_MILLIS} ms, every
 * {@link #BUSY_TICK_MICROS} µs while any ring moves (a ring idle for 10 ticks only every 10th tick) until the interval is over: bytes are the pointer deltas (modulo the ring size, so a wrap
 * is counted right as long as the writer did not go all the way round between two ticks), messages are counted by
 * walking the chunks between the two positions (see {@code RingTracker}). Rates are totals divided by the elapsed
 * time. SOCKET connections have no ring positions: they are listed with no rates.</p>
 */
public final class ActivitySampler implements AutoCloseable {
    /** Time between two samples of the ring pointers within one interval while no ring moves. */
    public static final long TICK_MILLIS = 10;
    /** Time between two samples while some ring moves: a 64 KiB ring wraps in 1 ms at 64 MB/s. */
    public static final long BUSY_TICK_MICROS = 500;

    /** Trackers by header path; kept across intervals so no write between two intervals is lost. */
    private final Map<String, RingTracker> trackers = new HashMap<>();
    /** The scan that ended the previous interval: the next one starts from it. */
    private HostSnapshot last;

    /**
     * Measures one interval.
     *
     * @param interval how long to measure
     * @param stop polled every tick: true ends the interval early (rates still cover the time measured)
     * @return the connections, busiest (bytes/s) first
     */
    public List<ConnectionActivity> measure(Duration interval, BooleanSupplier stop) {
        HostSnapshot before = last != null ? last : Discovery.scan();
        List<RingTracker> active = track(before);
        active.forEach(t -> {
            t.sample();
            t.reset();
        });
        long start = System.nanoTime();
        long end = start + interval.toNanos();
        boolean busy = false;
        while (System.nanoTime() < end && !stop.getAsBoolean() && !Thread.currentThread().isInterrupted()) {
            long tick = busy ? BUSY_TICK_MICROS * 1_000 : TICK_MILLIS * 1_000_000;
            LockSupport.parkNanos(Math.max(1, Math.min(tick, end - System.nanoTime())));
            busy = false;
            for (RingTracker t : active) {
                if (t.due()) {
                    t.sample();
                    busy |= t.moving();
                }
            }
        }
        double seconds = Math.max(1e-3, (System.nanoTime() - start) / 1e9);
        HostSnapshot after = Discovery.scan();
        last = after;
        List<ConnectionActivity> out = new ArrayList<>();
        for (ServiceInfo s : after.services()) {
            for (ConnectionInfo c : s.connections()) {
                List<RingRate> rates = new ArrayList<>();
                if (c.transport() == Transport.SHM) {
                    for (String ring : RingFiles.RINGS) {
                        RingTracker t = trackers.get(headerKey(c, ring));
                        rates.add(t == null ? new RingRate(ring, 0, 0, false, "new or unreadable")
                                : new RingRate(ring, t.messages() / seconds, t.bytes() / seconds, t.estimated(),
                                        t.error()));
                    }
                }
                out.add(new ConnectionActivity(s, c, List.copyOf(rates)));
            }
        }
        out.sort(Comparator.comparingDouble(ConnectionActivity::bytesPerSecond).reversed()
                .thenComparing(a -> a.service().name()).thenComparingInt(a -> a.connection().clientPid()));
        return out;
    }

    /** Opens trackers for new rings, closes those of connections that went away; returns those in {@code s}. */
    private List<RingTracker> track(HostSnapshot s) {
        Set<String> seen = new HashSet<>();
        List<RingTracker> active = new ArrayList<>();
        for (ServiceInfo svc : s.services()) {
            for (ConnectionInfo c : svc.connections()) {
                if (c.transport() != Transport.SHM || c.service() == null) {
                    continue;
                }
                for (String ring : RingFiles.RINGS) {
                    String key = headerKey(c, ring);
                    seen.add(key);
                    RingTracker t = trackers.get(key);
                    if (t == null) {
                        Path dir = Path.of(c.directory());
                        try {
                            t = RingTracker.open(RingFiles.header(dir, ring, c.service()),
                                    RingFiles.data(dir, ring, c.service()));
                        } catch (IOException e) {
                            continue;
                        }
                        trackers.put(key, t);
                    }
                    active.add(t);
                }
            }
        }
        trackers.entrySet().removeIf(e -> {
            if (!seen.contains(e.getKey())) {
                e.getValue().close();
                return true;
            }
            return false;
        });
        return active;
    }

    private static String headerKey(ConnectionInfo c, String ring) {
        return RingFiles.header(Path.of(c.directory()), ring, String.valueOf(c.service())).toString();
    }

    @Override
    public void close() {
        trackers.values().forEach(RingTracker::close);
        trackers.clear();
    }
}

package io.jqb;

import java.time.Duration;

/**
 * How a waiting side waits (Disruptor-style): spin, then yield, then block.
 *
 * <ul>
 * <li>{@link #block()} (default): sleep in the kernel at once, as libqb does. Lowest CPU use.</li>
 * <li>{@link #phased(Duration, Duration)}: busy-spin for a while, then {@code Thread.yield()} for a while, then
 * block. Round trips that complete within the spin window cost no system call and no wake-up.</li>
 * <li>{@link #busySpin()}: never block; burns a core while waiting.</li>
 * </ul>
 *
 * <p>On a {@link Client} it governs waits for responses and events. On an {@link EventLoop} it governs the loop:
 * while it spins it polls its SHM connections' request rings directly, and asks epoll (a non-blocking
 * {@code epoll_wait}) every 50 µs, or on every spin while it has SOCKET connections, whose requests only epoll
 * sees: one SOCKET connection on a loop makes each spin a system call for its SHM connections too. Two jqb ends that both spin exchange
 * messages without any system call: the client skips a request's doorbell byte while the server's loop advertises
 * (in a header field libqb ignores) that it is awake and polling. Native libqb peers are never affected: they always
 * get their semaphore posts and doorbell bytes, and a native peer is never left waiting on a semaphore nobody
 * posts.</p>
 */
public final class WaitStrategy {
    private static final WaitStrategy BLOCK = new WaitStrategy(0, 0, true, "block");
    private static final WaitStrategy BUSY_SPIN = new WaitStrategy(Long.MAX_VALUE, 0, false, "busy-spin");

    private final long spinNanos;
    private final long yieldNanos;
    private final boolean blocks;
    private final String name;

    private WaitStrategy(long spinNanos, long yieldNanos, boolean blocks, String name) {
        this.spinNanos = spinNanos;
        this.yieldNanos = yieldNanos;
        this.blocks = blocks;
        this.name = name;
    }

    /**
     * One idle step of a waiting loop that has found nothing for {@code idleNanos}: the phases spin, yield, block
     * written once (the client's receive and the event loop both use it). Spins ({@link Thread#onSpinWait()}) within
     * the spin window, yields ({@link Thread#yield()}) within the yield window that follows, and returns false once
     * the strategy says to block: at once for {@link #block()}, never for {@link #busySpin()}.
     *
     * @param idleNanos how long the caller has found nothing
     * @return true after spinning or yielding once; false when the caller should block now
     */
    public boolean idle(long idleNanos) {
        if (!blocks || idleNanos < spinNanos) {
            Thread.onSpinWait();
            return true;
        }
        if (idleNanos - spinNanos < yieldNanos) {
            Thread.yield();
            return true;
        }
        return false;
    }

    /**
     * Sleep in the kernel at once (libqb's behaviour; the default).
     *
     * @return the blocking strategy (libqb's)
     */
    public static WaitStrategy block() {
        return BLOCK;
    }

    /**
     * Never sleep: spin until the message arrives or the timeout expires.
     *
     * @return the busy-spin strategy
     */
    public static WaitStrategy busySpin() {
        return BUSY_SPIN;
    }

    /**
     * Spin for {@code spin}, then yield for {@code yield}, then sleep in the kernel.
     *
     * @param spin how long to spin before yielding
     * @param yield how long to yield before sleeping
     * @return a phased strategy
     */
    public static WaitStrategy phased(Duration spin, Duration yield) {
        long s = spin.toNanos();
        long y = yield.toNanos();
        if (s < 0 || y < 0) {
            throw new IllegalArgumentException("spin=" + spin + " yield=" + yield);
        }
        return new WaitStrategy(s, y, true, "phased(" + spin + "," + yield + ")");
    }

    /**
     * Parses {@code block}, {@code spin} (busy spin) or {@code phased:<spin µs>:<yield µs>}.
     *
     * @param s the text, e.g. {@code phased:50:200}
     * @return the strategy {@code s} names
     */
    public static WaitStrategy parse(String s) {
        if (s.equals("block")) {
            return block();
        }
        if (s.equals("spin") || s.equals("busy-spin")) {
            return busySpin();
        }
        if (s.startsWith("phased:")) {
            String[] p = s.split(":");
            if (p.length == 3) {
                return phased(Duration.ofNanos(Long.parseLong(p[1]) * 1000), Duration.ofNanos(Long.parseLong(p[2]) * 1000));
            }
        }
        throw new IllegalArgumentException("wait strategy '" + s + "' (block, spin, phased:<spin µs>:<yield µs>)");
    }

    /** @return how long to busy-spin before yielding */
    public long spinNanos() {
        return spinNanos;
    }

    /** @return how long to yield before blocking */
    public long yieldNanos() {
        return yieldNanos;
    }

    /** @return false for {@link #busySpin()} */
    public boolean blocks() {
        return blocks;
    }

    /** @return true unless this is {@link #block()} */
    public boolean spins() {
        return spinNanos > 0 || yieldNanos > 0 || !blocks;
    }

    @Override
    public String toString() {
        return name;
    }
}

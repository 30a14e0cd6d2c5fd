package io.jqb.testutil;

import io.jqb.Client;
import io.jqb.Errno;
import io.jqb.IpcException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A well-behaved jqb client on its own thread: echo round trips of varying sizes, each checked byte for byte and
 * bounded in time, until {@link #close()}. Tests run one next to whatever abuses the server and then assert
 * {@link #assertHealthy}: it kept being served the whole time.
 */
public final class EchoPinger implements AutoCloseable {
    /** Longest a single round trip may take before the server counts as not serving. */
    public static final int ROUND_TRIP_LIMIT_MS = 4_000;

    private final Client client;
    private final Thread thread;
    private final AtomicLong roundTrips = new AtomicLong();
    private final AtomicLong worstNanos = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean stop;

    private EchoPinger(Client client, String name) {
        this.client = client;
        this.thread = new Thread(this::run, "echo-pinger-" + name);
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** Connects to {@code service} and starts pinging. */
    public static EchoPinger start(String service) throws IpcException {
        return new EchoPinger(Client.connect(service, 65536), service);
    }

    private void run() {
        ByteBuffer req = EchoWire.buffer(65536);
        ByteBuffer resp = EchoWire.buffer(65536);
        int i = 0;
        try {
            while (!stop) {
                int n = (int) ((i * 7919L) % 4000);
                int seed = i % EchoWire.MAX_SEED;
                long t0 = System.nanoTime();
                EchoWire.request(req, EchoWire.ECHO, n, seed);
                int rc;
                while ((rc = client.send(req)) == Errno.WOULD_BLOCK) {
                    if (System.nanoTime() - t0 > ROUND_TRIP_LIMIT_MS * 1_000_000L) {
                        throw new AssertionError("send blocked for " + ROUND_TRIP_LIMIT_MS + " ms");
                    }
                    Thread.yield();
                }
                int len = client.recv(resp.clear(), ROUND_TRIP_LIMIT_MS);
                if (len == Errno.TIMED_OUT) {
                    throw new AssertionError("no echo within " + ROUND_TRIP_LIMIT_MS + " ms (round trip " + i + ")");
                }
                String why = EchoWire.checkResponse(resp, 0, len, EchoWire.ECHO, n, 0, seed);
                if (why != null) {
                    throw new AssertionError("round trip " + i + ": " + why);
                }
                long d = System.nanoTime() - t0;
                worstNanos.accumulateAndGet(d, Math::max);
                roundTrips.incrementAndGet();
                i++;
                if ((i & 15) == 0) {
                    Thread.sleep(1);
                }
            }
        } catch (Throwable t) {
            failure.set(t);
        }
    }

    public long roundTrips() {
        return roundTrips.get();
    }

    /** @return the slowest round trip so far, in ms */
    public long worstMillis() {
        return worstNanos.get() / 1_000_000;
    }

    /** Waits until at least {@code more} further round trips have completed (fails after 10 s or on an error). */
    public void awaitProgress(int more) {
        long target = roundTrips.get() + more;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (roundTrips.get() < target) {
            assertHealthy();
            if (System.nanoTime() > deadline) {
                throw new AssertionError("echo pinger made no progress in 10 s (" + roundTrips.get() + " round trips)");
            }
            NativeClient.sleep(2);
        }
    }

    /** Fails when a round trip failed or the thread stopped. */
    public void assertHealthy() {
        Throwable t = failure.get();
        if (t != null) {
            throw new AssertionError("the well-behaved client stopped being served after " + roundTrips.get()
                    + " round trips: " + t, t);
        }
        if (!thread.isAlive() && !stop) {
            throw new AssertionError("echo pinger thread ended");
        }
    }

    @Override
    public void close() {
        stop = true;
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        client.close();
    }
}

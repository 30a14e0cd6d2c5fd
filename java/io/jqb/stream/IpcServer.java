package io.jqb.stream;

import static io.jqb.internal.posix.Posix.C;
import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.internal.Logs;
import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.stream.internal.FdHandle;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;

/**
 * Accepts connections on a listening {@link Ipc} and serves each with a fresh copy of a prototype
 * {@link IpcService} on a thread of its own (vfiipc's {@code IPCServer}).
 *
 * <p><b>Threads.</b> At most {@code maxThreads} services run at once (default 256). Past that, the
 * {@link Overflow} policy applies: {@code WAIT} (default) stops accepting until a service ends, so new clients
 * wait in the kernel's listen backlog; {@code REFUSE} accepts and closes the connection at once. Service threads
 * are named {@code <name>-<n>}.</p>
 *
 * <p><b>Stopping</b>, from any thread, like an {@link java.util.concurrent.ExecutorService}:
 * {@link #stop()} ({@code shutdown}) wakes {@link #run}, closes the listening endpoint and lets running services
 * finish; {@link #stopNow()} ({@code shutdownNow}) also closes every running service's {@code Ipc}, which wakes its
 * blocked reads; {@link #stop(long)} does the first, waits up to a grace period, then the second.
 * {@link #run} returns once the accept loop ended and every service thread has ended.</p>
 *
 * <p><b>Accept errors</b> (e.g. EMFILE when the fd limit is reached) are passed to {@link #failure}: true goes on
 * (after a short pause, so a persistent error does not spin), false stops the server as {@link #stopNow()} does and
 * makes {@link #run} return false.</p>
 *
 * @param <S> the service type
 */
public class IpcServer<S extends IpcService> {
    private static final Logger LOG = Logs.get(IpcServer.class);
    /** Pause after an accept error that {@link #failure} chose to go on from. */
    private static final int FAILURE_PAUSE_MS = 50;

    /** What happens to connections past {@code maxThreads}. */
    public enum Overflow {
        /** Stop accepting until a service ends: new clients wait in the listen backlog. */
        WAIT,
        /** Accept and close at once. */
        REFUSE
    }

    private final String name;
    private final int maxThreads;
    private final Overflow overflow;
    private final Semaphore slots;
    private final Set<Running> running = ConcurrentHashMap.newKeySet();
    private final AtomicInteger seq = new AtomicInteger();
    private final Object lock = new Object();
    private volatile Ipc listener;
    private volatile boolean stopping;
    private volatile boolean closeServices;
    /** eventfd that wakes {@link #run}; -1 while not running. */
    private int wakeFd = -1;
    private long scratch;
    private volatile IpcException lastError;

    /** A server named {@code "jqb-ipc-server"} with at most 256 services, {@link Overflow#WAIT} past that. */
    public IpcServer() {
        this("jqb-ipc-server", 256, Overflow.WAIT);
    }

    /**
     * @param name thread-name prefix
     * @param maxThreads most services running at once
     * @param overflow what to do with connections past {@code maxThreads}
     */
    public IpcServer(String name, int maxThreads, Overflow overflow) {
        if (maxThreads <= 0) {
            throw new IllegalArgumentException("maxThreads=" + maxThreads);
        }
        this.name = name;
        this.maxThreads = maxThreads;
        this.overflow = overflow;
        this.slots = new Semaphore(maxThreads);
    }

    /**
     * Sets the listening endpoint {@link #run(IpcService)} will use.
     * @param listenIpc the listening endpoint
     */
    public void set(Ipc listenIpc) {
        this.listener = listenIpc;
    }

    /**
     * {@link #run(Ipc, IpcService)} on the endpoint given to {@link #set}.
     * @param prototype the service copied for every connection
     * @return as {@link #run(Ipc, IpcService)}
     */
    public boolean run(S prototype) {
        return run(listener, prototype);
    }

    /**
     * Accepts and serves until {@link #stop()}; the listening endpoint is closed when this returns.
     *
     * @return true after a stop; false when it could not start (no endpoint, already running, already stopped)
     *     or when {@link #failure} said to give up
     * @param listenIpc the listening endpoint
     * @param prototype the service copied for every connection
     */
    public boolean run(Ipc listenIpc, S prototype) {
        if (listenIpc == null || prototype == null) {
            return false;
        }
        FdHandle lh = listenIpc.handle();
        synchronized (lock) {
            if (wakeFd >= 0 || stopping || lh == null || lh.isClosed()) {
                return false;
            }
            try {
                wakeFd = Posix.check(C.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK), "eventfd");
            } catch (IpcException e) {
                LOG.warn("{}: cannot start: {}", name, e.getMessage());
                return false;
            }
            scratch = Posix.allocate(24);
            listener = listenIpc;
        }
        boolean ok = true;
        try {
            ok = acceptLoop(listenIpc, lh, prototype);
        } finally {
            listenIpc.close();
            awaitServices();
            synchronized (lock) {
                C.close(wakeFd);
                wakeFd = -1;
                Posix.free(scratch, 24);
                stopping = true;
            }
        }
        return ok;
    }

    private boolean acceptLoop(Ipc listenIpc, FdHandle lh, S prototype) {
        while (!stopping) {
            if (overflow == Overflow.WAIT && !takeSlot()) {
                break;
            }
            boolean slotHeld = overflow == Overflow.WAIT;
            try {
                Ipc conn = acceptOne(listenIpc, lh);
                if (conn == null) {
                    continue;
                }
                if (!slotHeld && !slots.tryAcquire()) {
                    LOG.debug("{}: {} services running, connection from {} refused", name, maxThreads,
                            conn.remoteAddress());
                    conn.close();
                    continue;
                }
                slotHeld = false;
                start(conn, prototype);
            } catch (IpcException e) {
                if (stopping) {
                    break;
                }
                lastError = e;
                boolean goOn;
                try {
                    goOn = failure(listenIpc, e);
                } catch (RuntimeException fe) {
                    LOG.warn("{}: failure() threw", name, fe);
                    goOn = false;
                }
                if (!goOn) {
                    closeServices = true;
                    stopping = true;
                    for (Running r : running) {
                        r.conn.close();
                    }
                    return false;
                }
                waitWake(FAILURE_PAUSE_MS);
            } finally {
                if (slotHeld) {
                    slots.release();
                }
            }
        }
        return true;
    }

    /** Waits for a free service slot, waking on stop. */
    private boolean takeSlot() {
        while (!stopping) {
            try {
                if (slots.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                    return true;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return false;
    }

    /** Polls the listener and the wake fd; accepts when a connection waits. */
    private Ipc acceptOne(Ipc listenIpc, FdHandle lh) {
        if (!lh.acquire()) {
            return null;
        }
        int rev;
        try {
            rev = Posix.pollTwo(lh.fd(), LibC.POLLIN, wakeFd, LibC.POLLIN, -1, scratch);
        } finally {
            lh.release();
        }
        if (stopping || (rev & 0xffff) == 0) {
            return null;
        }
        return listenIpc.accept(0);
    }

    private void waitWake(int ms) {
        Posix.pollOne(wakeFd, LibC.POLLIN, ms, scratch);
    }

    private void start(Ipc conn, S prototype) {
        IpcService service;
        try {
            service = prototype.copy();
        } catch (RuntimeException e) {
            slots.release();
            conn.close();
            throw new IpcException("copy service", io.jqb.Errno.ENOMEM, e.toString());
        }
        Running r = new Running(conn);
        Thread t = new Thread(() -> {
            try {
                service.serve(conn);
            } catch (RuntimeException e) {
                LOG.debug("{}: service for {} ended with {}", name, conn.remoteAddress(), e.toString());
            } finally {
                conn.close();
                running.remove(r);
                slots.release();
            }
        }, name + "-" + seq.incrementAndGet());
        r.thread = t;
        running.add(r);
        if (closeServices) {
            conn.close();
        }
        t.start();
    }

    private void awaitServices() {
        boolean interrupted = false;
        for (Running r : running) {
            while (r.thread.isAlive()) {
                try {
                    r.thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                    stopNow();
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Called on every accept error. Override to decide; the default logs (at most once per second) and goes on.
     * {@link #lastError()} tells the error.
     *
     * @param listenIpc the listening endpoint
     * @param error the accept error
     * @return true to go on accepting, false to make {@link #run} return false
     */
    protected boolean failure(Ipc listenIpc, IpcException error) {
        long now = System.nanoTime();
        if (now - lastFailureLog > 1_000_000_000L) {
            LOG.warn("{}: accept on {} failed: {}{}", name, listenIpc.localAddress(), error.getMessage(),
                    suppressed > 0 ? " (" + suppressed + " similar suppressed)" : "");
            lastFailureLog = now;
            suppressed = 0;
        } else {
            suppressed++;
        }
        return true;
    }

    private long lastFailureLog = System.nanoTime() - 2_000_000_000L;
    private int suppressed;

    /** @return the last accept error, or null */
    public IpcException lastError() {
        return lastError;
    }

    /** Stops accepting and closes the listening endpoint; running services finish on their own. Any thread. */
    public void stop() {
        stopping = true;
        synchronized (lock) {
            if (wakeFd >= 0) {
                MEM.writeLong(scratch + 16, 1);
                C.write(wakeFd, scratch + 16, 8);
            }
        }
    }

    /** {@link #stop()}, and closes every running service's {@code Ipc}. Any thread. */
    public void stopNow() {
        closeServices = true;
        stop();
        for (Running r : running) {
            r.conn.close();
        }
    }

    /**
     * {@link #stop()}, waits up to {@code graceMs} for services to finish, then {@link #stopNow()}.
     *
     * @return true when every service finished within the grace period
     * @param graceMs how long running services may take to finish
     */
    public boolean stop(long graceMs) {
        stop();
        long deadline = System.nanoTime() + graceMs * 1_000_000L;
        boolean finished = awaitTermination(graceMs);
        if (!finished) {
            stopNow();
        }
        return finished && System.nanoTime() - deadline <= 0;
    }

    /**
     * Waits until no service runs (after a stop, until {@link #run} can return).
     *
     * @return true when none runs
     * @param timeoutMs milliseconds to wait (0: do not wait, negative: without limit)
     */
    public boolean awaitTermination(long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        for (Running r : running) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return running.isEmpty();
            }
            try {
                r.thread.join(Math.max(1, left / 1_000_000L));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return running.isEmpty();
    }

    /** @return how many services run now */
    public int activeCount() {
        return running.size();
    }

    /** @return the most services that run at once */
    public int maxThreads() {
        return maxThreads;
    }

    /** One running service. */
    private static final class Running {
        final Ipc conn;
        Thread thread;

        Running(Ipc conn) {
            this.conn = conn;
        }
    }
}

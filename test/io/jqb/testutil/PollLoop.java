package io.jqb.testutil;

import io.jqb.IpcException;
import io.jqb.PollHandlers;
import io.jqb.Priority;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A user's own event loop, unrelated to {@link io.jqb.EventLoop}: one thread around {@code poll(2)}, for running a
 * service through {@link io.jqb.Service#setPollHandlers}. Counts what the service asks of it.
 */
public final class PollLoop implements PollHandlers, AutoCloseable {
    private static final Priority[] ORDER = {Priority.HIGH, Priority.MED, Priority.LOW};

    private record Watch(int fd, int events, FdHandler handler, Priority priority) {
    }

    private final Map<Integer, Watch> watches = new HashMap<>();
    private final ConcurrentLinkedQueue<Runnable> jobs = new ConcurrentLinkedQueue<>();
    private final int wakeFd;
    private final long wakeBuf = Posix.allocate(8);
    private final Thread thread;
    private volatile boolean running = true;
    private long fds;
    private int fdsCapacity;

    public final AtomicInteger adds = new AtomicInteger();
    public final AtomicInteger mods = new AtomicInteger();
    public final AtomicInteger dels = new AtomicInteger();
    public final AtomicInteger jobsAdded = new AtomicInteger();
    public final AtomicInteger dispatches = new AtomicInteger();
    /** Calls that came from a thread other than the loop's (allowed for jobAdd and dispatchMod only). */
    public final List<String> foreignCalls = java.util.Collections.synchronizedList(new ArrayList<>());

    public PollLoop(String name) {
        wakeFd = Posix.C.eventfd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
        if (wakeFd < 0) {
            throw new IllegalStateException("eventfd: errno " + Posix.errno());
        }
        thread = new Thread(this::loop, name);
        thread.setDaemon(true);
        thread.start();
    }

    public String threadName() {
        return thread.getName();
    }

    private void loop() {
        while (running) {
            List<Watch> ws;
            synchronized (this) {
                ws = new ArrayList<>(watches.values());
            }
            int n = ws.size() + 1;
            if (n > fdsCapacity) {
                Posix.free(fds, 8L * fdsCapacity);
                fdsCapacity = Math.max(n, 2 * fdsCapacity);
                fds = Posix.allocate(8L * fdsCapacity);
            }
            put(0, wakeFd, POLLIN);
            for (int i = 0; i < ws.size(); i++) {
                put(i + 1, ws.get(i).fd(), ws.get(i).events());
            }
            int rc = Posix.C.poll(fds, n, jobs.isEmpty() ? 1000 : 0);
            if (rc > 0) {
                if (revents(0) != 0) {
                    Posix.C.read(wakeFd, wakeBuf, 8);
                }
                for (Priority p : ORDER) {
                    for (int i = 0; i < ws.size(); i++) {
                        Watch w = ws.get(i);
                        int re = revents(i + 1);
                        if (re == 0 || w.priority() != p) {
                            continue;
                        }
                        Watch now;
                        synchronized (this) {
                            now = watches.get(w.fd());
                        }
                        if (now == null || now.handler() != w.handler()) {
                            continue; // removed (or replaced) by an earlier handler in this round
                        }
                        dispatches.incrementAndGet();
                        now.handler().onEvents(w.fd(), re);
                    }
                }
            }
            Runnable j;
            while ((j = jobs.poll()) != null) {
                j.run();
            }
        }
    }

    private void put(int i, int fd, int events) {
        Posix.MEM.writeInt(fds + 8L * i, fd);
        Posix.MEM.writeShort(fds + 8L * i + 4, (short) events);
        Posix.MEM.writeShort(fds + 8L * i + 6, (short) 0);
    }

    private int revents(int i) {
        return Posix.MEM.readShort(fds + 8L * i + 6) & 0xffff;
    }

    private void wake() {
        long b = Posix.allocate(8);
        Posix.MEM.writeLong(b, 1);
        Posix.C.write(wakeFd, b, 8);
        Posix.free(b, 8);
    }

    private void noteThread(String call) {
        if (Thread.currentThread() != thread) {
            foreignCalls.add(call + " from " + Thread.currentThread().getName());
        }
    }

    @Override
    public void jobAdd(Priority priority, Runnable job) {
        jobsAdded.incrementAndGet();
        jobs.add(job);
        wake();
    }

    @Override
    public synchronized void dispatchAdd(Priority priority, int fd, int events, FdHandler handler)
            throws IpcException {
        noteThread("dispatchAdd");
        if (watches.putIfAbsent(fd, new Watch(fd, events, handler, priority)) != null) {
            throw new IpcException("dispatchAdd(" + fd + ")", io.jqb.Errno.EEXIST);
        }
        adds.incrementAndGet();
        wake();
    }

    @Override
    public synchronized void dispatchMod(Priority priority, int fd, int events, FdHandler handler)
            throws IpcException {
        if (watches.replace(fd, new Watch(fd, events, handler, priority)) == null) {
            throw new IpcException("dispatchMod(" + fd + ")", io.jqb.Errno.ENOENT);
        }
        mods.incrementAndGet();
        wake();
    }

    @Override
    public synchronized void dispatchDel(int fd) {
        noteThread("dispatchDel");
        if (watches.remove(fd) != null) {
            dels.incrementAndGet();
        }
    }

    /** @return how many fds are watched */
    public synchronized int watched() {
        return watches.size();
    }

    /** Runs {@code r} on the loop thread and waits for it (rethrowing what it threw). */
    public void runAndWait(Runnable r) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        jobAdd(Priority.HIGH, () -> {
            try {
                r.run();
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        });
        try {
            done.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("job on " + thread.getName() + " failed", e);
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        wake();
        thread.join(5000);
        if (!thread.isAlive()) {
            Posix.C.close(wakeFd);
            Posix.free(fds, 8L * fdsCapacity);
            Posix.free(wakeBuf, 8);
        }
    }
}

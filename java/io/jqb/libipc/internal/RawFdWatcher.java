package io.jqb.libipc.internal;

import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Watches raw fds (ints a user passed to {@code addFd}) for a {@link java.nio.channels.Selector}-based loop, which
 * cannot register a bare fd: one thread for all of them (not one per fd) {@code poll(2)}s the armed fds and an
 * eventfd; a readable fd is disarmed, queued and the loop's selector woken. The loop re-arms it after it reported
 * it and the user had a chance to read it, so an fd that stays readable is reported again (level-triggered, like
 * every other source). The thread exists only while at least one raw fd is added.
 */
public final class RawFdWatcher implements AutoCloseable {
    private static final int POLLIN_ANY = LibC.POLLIN | LibC.POLLHUP | LibC.POLLERR;

    private final Runnable wakeLoop;
    private final int eventFd;
    private final ConcurrentLinkedQueue<Integer> ready = new ConcurrentLinkedQueue<>();
    /** fd -> armed. Guarded by this. */
    private final java.util.Map<Integer, Boolean> fds = new java.util.LinkedHashMap<>();
    private long generation;
    private long seenGeneration;
    private volatile boolean stop;
    private final Thread thread;
    private final long scratch8 = Posix.allocate(8);

    /** @param wakeLoop wakes the loop's selector (called from the watcher thread) */
    public RawFdWatcher(Runnable wakeLoop) {
        this.wakeLoop = wakeLoop;
        this.eventFd = Posix.check(Posix.C.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK), "eventfd");
        this.thread = new Thread(this::run, "jqb-libipc-extra-fds");
        thread.setDaemon(true);
        thread.start();
    }

    /** Starts watching {@code fd}. */
    public synchronized void add(int fd) {
        fds.put(fd, Boolean.TRUE);
        changed();
    }

    /**
     * Stops watching {@code fd}; returns once the watcher thread no longer polls it, so the caller may close it.
     *
     * @return true if it was watched
     */
    public synchronized boolean remove(int fd) {
        if (fds.remove(fd) == null) {
            return false;
        }
        ready.remove(fd);
        long g = changed();
        while (seenGeneration < g && thread.isAlive()) {
            try {
                wait(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return true;
    }

    /** @return true if {@code fd} is watched */
    public synchronized boolean contains(int fd) {
        return fds.containsKey(fd);
    }

    /** @return how many fds are watched */
    public synchronized int size() {
        return fds.size();
    }

    /** Polls it again (after the loop reported it). */
    public synchronized void rearm(int fd) {
        if (fds.containsKey(fd)) {
            fds.put(fd, Boolean.TRUE);
            changed();
        }
    }

    /** @return the next fd found readable, or null */
    public Integer poll() {
        return ready.poll();
    }

    private long changed() {
        generation++;
        Posix.MEM.writeLong(scratch8, 1L);
        Posix.C.write(eventFd, scratch8, 8);
        return generation;
    }

    private void run() {
        long pollfds = 0;
        int capacity = 0;
        List<Integer> armed = new ArrayList<>();
        try {
            while (!stop) {
                long g;
                synchronized (this) {
                    armed.clear();
                    fds.forEach((fd, on) -> {
                        if (on) {
                            armed.add(fd);
                        }
                    });
                    g = generation;
                }
                int n = armed.size() + 1;
                if (n > capacity) {
                    if (pollfds != 0) {
                        Posix.free(pollfds, capacity * 8L);
                    }
                    capacity = Math.max(n, 8);
                    pollfds = Posix.allocate(capacity * 8L);
                }
                put(pollfds, 0, eventFd);
                for (int i = 0; i < armed.size(); i++) {
                    put(pollfds, i + 1, armed.get(i));
                }
                synchronized (this) {
                    seenGeneration = g;
                    notifyAll();
                }
                int rc = Posix.C.poll(pollfds, n, -1);
                if (rc <= 0) {
                    continue;
                }
                if ((Posix.MEM.readShort(pollfds + 6) & 0xffff) != 0) {
                    long buf = Posix.allocate(8);
                    Posix.C.read(eventFd, buf, 8);
                    Posix.free(buf, 8);
                }
                boolean any = false;
                synchronized (this) {
                    for (int i = 0; i < armed.size(); i++) {
                        int revents = Posix.MEM.readShort(pollfds + (i + 1) * 8L + 6) & 0xffff;
                        int fd = armed.get(i);
                        if (revents != 0 && fds.get(fd) == Boolean.TRUE) {
                            fds.put(fd, Boolean.FALSE);
                            ready.add(fd);
                            any = true;
                        }
                    }
                }
                if (any) {
                    wakeLoop.run();
                }
            }
        } finally {
            if (pollfds != 0) {
                Posix.free(pollfds, capacity * 8L);
            }
            synchronized (this) {
                seenGeneration = Long.MAX_VALUE;
                notifyAll();
            }
        }
    }

    private static void put(long pollfds, int i, int fd) {
        long at = pollfds + i * 8L;
        Posix.MEM.writeInt(at, fd);
        Posix.MEM.writeShort(at + 4, (short) POLLIN_ANY);
        Posix.MEM.writeShort(at + 6, (short) 0);
    }

    /** Stops the thread (joins it) and closes the eventfd. */
    @Override
    public void close() {
        stop = true;
        synchronized (this) {
            changed();
        }
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Posix.closeQuietly(eventFd);
        Posix.free(scratch8, 8);
    }
}

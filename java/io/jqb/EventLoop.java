package io.jqb;

import static io.jqb.internal.posix.Posix.C;
import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.MsgHdrDescriptor;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * jqb's built-in event loop: one thread, one epoll instance, no thread per connection. Level-triggered, like
 * libqb's poll loop. Ready fds are dispatched HIGH priority first, then MED, then LOW; jobs queued from any
 * thread run between polls; timers serve time-outs.
 *
 * <p>Start it on its own thread with {@link #start()}, or call {@link #run()} from a thread of yours; {@link #close()}
 * stops it and releases its fds.</p>
 */
public final class EventLoop implements PollHandlers, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EventLoop.class);
    private static final int MAX_EVENTS = 64;
    private static final Priority[] ORDER = {Priority.HIGH, Priority.MED, Priority.LOW};

    private static final class Registration {
        final int fd;
        final long generation;
        volatile FdHandler handler;
        volatile Priority priority;

        Registration(int fd, long generation, FdHandler handler, Priority priority) {
            this.fd = fd;
            this.generation = generation;
            this.handler = handler;
            this.priority = priority;
        }
    }

    private static final class Timer implements Comparable<Timer> {
        final long deadline;
        final long seq;
        final Runnable task;

        Timer(long deadline, long seq, Runnable task) {
            this.deadline = deadline;
            this.seq = seq;
            this.task = task;
        }

        @Override
        public int compareTo(Timer o) {
            int c = Long.compare(deadline, o.deadline);
            return c != 0 ? c : Long.compare(seq, o.seq);
        }
    }

    private final String name;
    private final int epfd;
    private final int wakeFd;
    private final long events;
    private final long ctlEvent;
    private final long wakeBuf;
    private final ConcurrentLinkedQueue<Runnable> jobs = new ConcurrentLinkedQueue<>();
    private final PriorityQueue<Timer> timers = new PriorityQueue<>();
    private final CountDownLatch finished = new CountDownLatch(1);
    private Registration[] registrations = new Registration[256];
    private long generation;
    private long timerSeq;
    private volatile boolean running;
    private volatile boolean closed;
    private volatile Thread thread;

    /** Creates a loop named {@code jqb-loop}. */
    public EventLoop() throws IpcException {
        this("jqb-loop");
    }

    /** @param name the thread name {@link #start()} uses */
    public EventLoop(String name) throws IpcException {
        this.name = name;
        this.epfd = Posix.check(C.epoll_create1(LibC.EPOLL_CLOEXEC), "epoll_create1");
        int w = C.eventfd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
        if (w < 0) {
            int e = Posix.errno();
            C.close(epfd);
            throw new IpcException("eventfd", e);
        }
        this.wakeFd = w;
        this.events = Posix.allocate((long) MAX_EVENTS * MsgHdrDescriptor.EPOLL_EVENT_LENGTH);
        this.ctlEvent = Posix.allocate(MsgHdrDescriptor.EPOLL_EVENT_LENGTH);
        this.wakeBuf = Posix.allocate(8);
        ctl(LibC.EPOLL_CTL_ADD, wakeFd, LibC.POLLIN, wakeFd);
    }

    /** Runs the loop on a new thread and returns. */
    public EventLoop start() {
        Thread t = new Thread(this::run, name);
        t.setDaemon(false);
        thread = t;
        running = true;
        t.start();
        return this;
    }

    /** Runs the loop on the calling thread until {@link #stop()}. */
    public void run() {
        thread = Thread.currentThread();
        running = true;
        try {
            while (running) {
                runOnce(nextTimeoutMs());
            }
        } finally {
            finished.countDown();
        }
    }

    /** @return true when called from the loop's own thread */
    public boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    private int nextTimeoutMs() {
        if (!jobs.isEmpty()) {
            return 0;
        }
        Timer t = timers.peek();
        if (t == null) {
            return -1;
        }
        long ms = (t.deadline - System.nanoTime() + 999_999) / 1_000_000;
        return (int) Math.max(0, Math.min(ms, Integer.MAX_VALUE));
    }

    private void runOnce(int timeoutMs) {
        int n = C.epoll_wait(epfd, events, MAX_EVENTS, timeoutMs);
        if (n < 0) {
            int e = Posix.errno();
            if (e != Errno.EINTR) {
                LOG.error("epoll_wait: {} - loop stops", Errno.name(e));
                running = false;
            }
            n = 0;
        }
        for (Priority p : ORDER) {
            for (int i = 0; i < n; i++) {
                long ev = events + (long) i * MsgHdrDescriptor.EPOLL_EVENT_LENGTH;
                long data = MEM.readLong(ev + MsgHdrDescriptor.EPOLL_EVENT_DATA);
                int fd = (int) data;
                if (fd == wakeFd) {
                    if (p == Priority.HIGH) {
                        C.read(wakeFd, wakeBuf, 8);
                    }
                    continue;
                }
                Registration r = fd >= 0 && fd < registrations.length ? registrations[fd] : null;
                if (r == null || r.generation != (data >>> 32) || r.priority != p) {
                    continue;
                }
                int revents = MEM.readInt(ev + MsgHdrDescriptor.EPOLL_EVENT_EVENTS);
                try {
                    r.handler.onEvents(fd, revents & 0xffff);
                } catch (RuntimeException | Error e) {
                    LOG.error("handler for fd {} failed", fd, e);
                }
            }
        }
        runJobs();
        runTimers();
    }

    private void runJobs() {
        Runnable j;
        int budget = 1024;
        while (budget-- > 0 && (j = jobs.poll()) != null) {
            try {
                j.run();
            } catch (RuntimeException | Error e) {
                LOG.error("job failed", e);
            }
        }
    }

    private void runTimers() {
        long now = System.nanoTime();
        Timer t;
        while ((t = timers.peek()) != null && t.deadline - now <= 0) {
            timers.poll();
            try {
                t.task.run();
            } catch (RuntimeException | Error e) {
                LOG.error("timer failed", e);
            }
        }
    }

    /**
     * Runs {@code task} on the loop thread after {@code delayMs}. Thread-safe.
     */
    public void schedule(long delayMs, Runnable task) {
        long deadline = System.nanoTime() + delayMs * 1_000_000L;
        Runnable add = () -> timers.add(new Timer(deadline, timerSeq++, task));
        if (inLoop()) {
            add.run();
        } else {
            jobAdd(Priority.MED, add);
        }
    }

    @Override
    public void jobAdd(Priority priority, Runnable job) {
        jobs.add(job);
        if (!inLoop()) {
            wake();
        }
    }

    private void wake() {
        long b = Posix.allocate(8);
        try {
            MEM.writeLong(b, 1);
            C.write(wakeFd, b, 8);
        } finally {
            Posix.free(b, 8);
        }
    }

    @Override
    public synchronized void dispatchAdd(Priority priority, int fd, int events, FdHandler handler)
            throws IpcException {
        if (fd < 0) {
            throw new IpcException("epoll_ctl(ADD)", Errno.EBADF);
        }
        if (fd >= registrations.length) {
            Registration[] bigger = new Registration[Math.max(fd + 1, registrations.length * 2)];
            System.arraycopy(registrations, 0, bigger, 0, registrations.length);
            registrations = bigger;
        }
        if (registrations[fd] != null) {
            throw new IpcException("epoll_ctl(ADD fd " + fd + ")", Errno.EEXIST);
        }
        Registration r = new Registration(fd, ++generation, handler, priority);
        ctl(LibC.EPOLL_CTL_ADD, fd, events, (r.generation << 32) | (fd & 0xffffffffL));
        registrations[fd] = r;
    }

    @Override
    public synchronized void dispatchMod(Priority priority, int fd, int events, FdHandler handler)
            throws IpcException {
        Registration r = fd >= 0 && fd < registrations.length ? registrations[fd] : null;
        if (r == null) {
            throw new IpcException("epoll_ctl(MOD fd " + fd + ")", Errno.ENOENT);
        }
        r.handler = handler;
        r.priority = priority;
        ctl(LibC.EPOLL_CTL_MOD, fd, events, (r.generation << 32) | (fd & 0xffffffffL));
    }

    @Override
    public synchronized void dispatchDel(int fd) {
        if (fd >= 0 && fd < registrations.length && registrations[fd] != null) {
            registrations[fd] = null;
            C.epoll_ctl(epfd, LibC.EPOLL_CTL_DEL, fd, ctlEvent);
        }
    }

    private void ctl(int op, int fd, int ev, long data) throws IpcException {
        MEM.writeInt(ctlEvent + MsgHdrDescriptor.EPOLL_EVENT_EVENTS, ev);
        MEM.writeLong(ctlEvent + MsgHdrDescriptor.EPOLL_EVENT_DATA, data);
        Posix.check(C.epoll_ctl(epfd, op, fd, ctlEvent), "epoll_ctl(fd " + fd + ")");
    }

    /** Asks the loop to return from {@link #run()} after the current iteration. Thread-safe. */
    public void stop() {
        running = false;
        wake();
    }

    /**
     * Stops the loop, waits for its thread (unless called from it), and closes its fds. Registered fds are not
     * closed: they belong to whoever registered them.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        Thread t = thread;
        stop();
        if (t != null && t != Thread.currentThread() && t.isAlive()) {
            try {
                finished.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            C.close(wakeFd);
            C.close(epfd);
            Posix.free(events, (long) MAX_EVENTS * MsgHdrDescriptor.EPOLL_EVENT_LENGTH);
            Posix.free(ctlEvent, MsgHdrDescriptor.EPOLL_EVENT_LENGTH);
            Posix.free(wakeBuf, 8);
        }
    }
}

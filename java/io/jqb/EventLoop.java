package io.jqb;

import static io.jqb.internal.posix.Posix.C;
import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.internal.CancellableTask;
import io.jqb.internal.Logs;
import io.jqb.internal.Spinner;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.MsgHdrDescriptor;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;

/**
 * jqb's built-in event loop: one thread, one epoll instance, no thread per connection. Level-triggered, like
 * libqb's poll loop. Ready fds are dispatched HIGH priority first, then MED, then LOW; jobs queued from any
 * thread ({@link #jobAdd}) run between polls, also HIGH before MED before LOW as libqb's job levels; timers serve
 * time-outs.
 *
 * <p>Start it on its own thread with {@link #start()}, or call {@link #run()} from a thread of yours; {@link #close()}
 * stops it and releases its fds.</p>
 */
public final class EventLoop implements PollHandlers, AutoCloseable {
    private static final Logger LOG = Logs.get(EventLoop.class);
    /** Failures a peer may provoke repeatedly (a fault on its truncated mapping): rate-limited. */
    private static final io.jqb.internal.log.RateLimitedLog FAILURE_LOG = new io.jqb.internal.log.RateLimitedLog(LOG);
    private static final int MAX_EVENTS = 64;
    /** A spinning loop reads the clock every this many spins (a power of two) to decide on an epoll_wait(0). */
    private static final int CLOCK_EVERY = 64;
    /**
     * A spinning loop asks epoll (fds, timers) at least this often; SHM rings are polled on every spin. While it has
     * connections that only epoll can see ({@link #socketConnections}), it asks on every spin.
     */
    private static final long EPOLL_EVERY_NANOS = 50_000;
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

        /** @return whether its task became moot ({@link CancellableTask}): dropped, never run */
        boolean moot() {
            return task instanceof CancellableTask c && c.cancelled();
        }
    }

    private final String name;
    private final WaitStrategy waitStrategy;
    private final java.util.ArrayList<Spinner> spinners = new java.util.ArrayList<>();
    /** Connections owing event notifications, sent when the dispatch pass ends (loop thread only). */
    private final java.util.ArrayList<Connection> deferred = new java.util.ArrayList<>();
    /**
     * A blocking loop's jqb SHM connections whose request ring says {@code READER_POLLING}: their client skips
     * doorbells, so the loop serves them again each pass without waiting for epoll (which then does not block) until
     * the pass-end withdrawal finds the ring empty ({@link Connection#drainSettle}). Loop thread only.
     */
    private final java.util.ArrayList<Connection> draining = new java.util.ArrayList<>();
    /**
     * Driven by {@link #runOnce}: the loop never spins, whatever its strategy (between calls the embedder's thread
     * waits in its own poller, where no one would poll a ring that says its reader is awake), so its connections
     * drain as a blocking loop's do. Set by the first {@code runOnce}.
     */
    private volatile boolean embedded;
    /** The loop wrote its own wake-up eventfd (loop thread only): an embedder's poller on {@link #fd()} wakes. */
    private boolean selfSignalled;
    /** 8 bytes holding 1, for {@link #selfSignalled}'s write (loop thread only). */
    private final long signalBuf;
    /** True while the loop thread dispatches (fds, spinners, jobs, timers): deferred notifications get flushed. */
    private boolean dispatching;
    private final int epfd;
    private final int wakeFd;
    private final long events;
    private final long ctlEvent;
    private final long wakeBuf;
    /** Jobs by priority, as libqb's loop levels: [0] HIGH, [1] MED, [2] LOW. */
    private final ConcurrentLinkedQueue<Runnable>[] jobs = newJobQueues();
    private final PriorityQueue<Timer> timers = new PriorityQueue<>();
    private final CountDownLatch finished = new CountDownLatch(1);
    private Registration[] registrations = new Registration[256];
    private long generation;
    private long timerSeq;
    private volatile boolean running;
    private volatile boolean closed;
    private volatile Thread thread;

    /** Creates a blocking loop named {@code jqb-loop}. */
    public EventLoop() {
        this("jqb-loop");
    }

    /** @param name the thread name {@link #start()} uses */
    public EventLoop(String name) {
        this(name, WaitStrategy.block());
    }

    /**
     * @param name the thread name {@link #start()} uses
     * @param waitStrategy how the loop waits when idle; anything but {@link WaitStrategy#block()} makes it poll its
     *        SHM connections' request rings directly while it spins
     */
    public EventLoop(String name, WaitStrategy waitStrategy) {
        this.name = name;
        this.waitStrategy = java.util.Objects.requireNonNull(waitStrategy, "waitStrategy");
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
        this.signalBuf = Posix.allocate(8);
        MEM.writeLong(signalBuf, 1);
        ctl(LibC.EPOLL_CTL_ADD, wakeFd, LibC.POLLIN, wakeFd);
    }

    /**
     * Runs the loop on a new thread and returns.
     *
     * @return this loop
     */
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
                try {
                    if (waitStrategy.spins()) {
                        runSpinning();
                    } else {
                        while (running) {
                            poll(nextTimeoutMs());
                        }
                    }
                } catch (Throwable t) {
                    // Nothing may end the loop but stop(): a fault surfacing here (e.g. an InternalError from a
                    // peer truncating a mapped file) would otherwise take every connection of the loop with it.
                    FAILURE_LOG.error("event loop iteration failed; the loop goes on", t);
                }
            }
        } finally {
            finished.countDown();
        }
    }

    /** @return true when called from the loop's own thread */
    public boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    /**
     * @return true on the thread of {@link #run()}/{@link #start()}, which never changes: unlike {@link #inLoop()}
     *         on an embedded loop ({@link #runOnce}), whose driving thread may change between calls, no other thread
     *         can run the loop's callbacks meanwhile
     */
    boolean onFixedThread() {
        return !embedded && Thread.currentThread() == thread;
    }

    private int nextTimeoutMs() {
        if (jobsPending() || !draining.isEmpty()) {
            return 0;
        }
        Timer t = nextTimer();
        if (t == null) {
            return -1;
        }
        long ms = (t.deadline - System.nanoTime() + 999_999) / 1_000_000;
        return (int) Math.max(0, Math.min(ms, Integer.MAX_VALUE));
    }

    /** @return the loop's wait strategy */
    public WaitStrategy waitStrategy() {
        return waitStrategy;
    }

    /**
     * @return true when the loop waits in epoll between passes (a blocking strategy, or driven by {@link #runOnce}):
     *         its jqb SHM connections drain with the flag raised instead of being polled by spinners
     */
    boolean drains() {
        return !waitStrategy.spins() || embedded;
    }

    /** Adds work polled while the loop spins; loop thread only. No effect on a loop that {@link #drains()}. */
    void addSpinner(Spinner s) {
        if (!drains()) {
            spinners.add(s);
            s.awake();
        }
    }

    /** Loop thread only. */
    void removeSpinner(Spinner s) {
        spinners.remove(s);
    }

    /**
     * Established connections of a spinning loop whose requests only epoll can see (SOCKET: no ring to poll). While
     * there is one, the spin calls epoll_wait(0) on every pass: at the SHM cadence ({@link #EPOLL_EVERY_NANOS}) a
     * socket request waited up to 50 µs for a loop that was spinning to serve it at once.
     */
    private final AtomicInteger socketConnections = new AtomicInteger();

    /**
     * Counts a connection that only epoll can see ready, on a loop that spins ({@link #socketConnections}).
     *
     * @return true when counted: the caller gives it back with {@link #removeSocketConnection()} once
     */
    boolean addSocketConnection() {
        if (drains()) {
            return false;
        }
        socketConnections.incrementAndGet();
        return true;
    }

    /** Gives back one {@link #addSocketConnection()} that returned true; any thread. */
    void removeSocketConnection() {
        socketConnections.decrementAndGet();
    }

    /** @return the connections counted by {@link #addSocketConnection()} now (tests) */
    int socketConnections() {
        return socketConnections.get();
    }

    /** Loop thread: {@code c} raised its flag and is served now, on POLLIN; it stays listed while it has requests. */
    void drained(Connection c) {
        c.drainServed = true;
        if (!c.drainListed) {
            c.drainListed = true;
            draining.add(c);
        }
    }

    /** Loop thread: {@code c} was resumed; this pass's end looks at its ring (and serves it from the next pass). */
    void drainAgain(Connection c) {
        if (!c.drainListed) {
            c.drainListed = true;
            draining.add(c);
        }
    }

    /** Serves the listed connections of priority {@code p} that no POLLIN served in this pass. */
    private boolean serveDraining(Priority p) {
        boolean work = false;
        final java.util.ArrayList<Connection> list = draining;
        for (int i = 0; i < list.size(); i++) {
            Connection c = list.get(i);
            if (!c.drainServed && c.priority() == p) {
                c.drainServed = true;
                try {
                    work |= c.drainPoll();
                } catch (RuntimeException | Error e) {
                    FAILURE_LOG.error("serving connection {} failed", c.id(), e);
                }
            }
        }
        return work;
    }

    /** End of a pass: each listed connection keeps its flag while requests are queued, or withdraws and leaves. */
    private void settleDraining() {
        final java.util.ArrayList<Connection> list = draining;
        for (int i = 0; i < list.size();) {
            Connection c = list.get(i);
            c.drainServed = false;
            boolean keep;
            try {
                keep = c.drainSettle();
            } catch (RuntimeException | Error e) {
                FAILURE_LOG.error("settling connection {} failed", c.id(), e);
                keep = false;
            }
            if (keep) {
                i++;
            } else {
                c.drainListed = false;
                int last = list.size() - 1;
                list.set(i, list.get(last));
                list.remove(last);
            }
        }
    }

    private boolean pollSpinners() {
        boolean work = false;
        final java.util.ArrayList<Spinner> list = spinners;
        dispatching = true;
        try {
            for (int i = 0; i < list.size(); i++) {
                try {
                    work |= list.get(i).poll();
                } catch (RuntimeException | Error e) {
                    LOG.error("spinner failed", e);
                }
            }
        } finally {
            flushDeferred();
        }
        return work;
    }

    /**
     * Spin: poll rings and fds without sleeping; when idle past the strategy's spin and yield windows, withdraw the
     * awake advertisements, re-check, and only then sleep in epoll.
     */
    private void runSpinning() {
        // Under busy-spin the idle time is never used: no clock read per spin (it was a third of the loop's time).
        final boolean timed = waitStrategy.blocks();
        long idleSince = timed ? System.nanoTime() : 0L;
        int iteration = 0;
        long lastEpoll = System.nanoTime();
        while (running) {
            boolean work = pollSpinners();
            // epoll_wait is a system call: ask it every EPOLL_EVERY_NANOS (the clock is read every CLOCK_EVERY
            // spins, however long a spin over many connections takes), or at once when a job is queued.
            boolean polled = false;
            if (socketConnections.get() > 0) {
                polled = true;
                work |= poll(0);
            } else if ((++iteration & (CLOCK_EVERY - 1)) == 0) {
                long now = System.nanoTime();
                if (now - lastEpoll >= EPOLL_EVERY_NANOS) {
                    lastEpoll = now;
                    polled = true;
                    work |= poll(0);
                }
            }
            if (!polled && jobsPending()) {
                work |= poll(0);
            }
            if (work) {
                if (timed) {
                    idleSince = System.nanoTime();
                }
                continue;
            }
            if (!timed) {
                Thread.onSpinWait();
                continue;
            }
            if (waitStrategy.idle(System.nanoTime() - idleSince)) {
                continue; // spinning or yielding
            }
            boolean pending = false;
            for (int i = 0; i < spinners.size(); i++) {
                pending |= spinners.get(i).prepareSleep();
            }
            if (!pending) {
                poll(nextTimeoutMs());
            }
            for (int i = 0; i < spinners.size(); i++) {
                spinners.get(i).awake();
            }
            idleSince = System.nanoTime();
        }
    }

    /**
     * Runs one iteration on the calling thread, for embedding the loop in a loop of yours instead of {@link #start()}
     * or {@link #run()} (an embedded loop does not spin, whatever its {@link #waitStrategy()}: it serves rings only
     * inside these calls; connections accepted before the first call on a spinning loop keep its spinners): waits
     * up to {@code timeoutMs} (shortened to the next timer; 0 = do not wait, negative = until
     * something happens) for ready fds, dispatches them, then runs queued jobs and due timers. Always call it from
     * the same thread: that thread becomes the loop thread, where every callback of the services on this loop runs.
     * Between calls, {@link #fd()} becomes readable when a watched fd is ready, a job is queued, or a jqb client's
     * requests wait that came without a doorbell (then {@link #timeoutMs()} is 0 too), and {@link #timeoutMs()} says
     * when the next timer is due. The loop makes {@link #fd()} readable itself (an eventfd write, read back by the
     * next call: two system calls per call) while a jqb client's ring is served without doorbells or a job it
     * queued on its own thread waits.
     *
     * @param timeoutMs the longest wait in milliseconds
     * @return true when anything was dispatched or run
     */
    public boolean runOnce(int timeoutMs) {
        if (thread != Thread.currentThread()) {
            thread = Thread.currentThread();
        }
        if (!embedded) {
            embedded = true;
        }
        int due = nextTimeoutMs();
        int t = due < 0 ? timeoutMs : timeoutMs < 0 ? due : Math.min(timeoutMs, due);
        boolean work = poll(t);
        if ((!draining.isEmpty() || jobsPending()) && !selfSignalled) {
            // Requests wait that came without a doorbell (no fd of theirs is readable), or a job was queued on this
            // thread after the jobs ran (by a timer, a job past the budget: queued here, it wrote no wake-up):
            // make our fd readable for an embedder that waits for fd() alone (one that honours timeoutMs() calls
            // again at once anyway).
            selfSignalled = true;
            C.write(wakeFd, signalBuf, 8);
        }
        return work;
    }

    /**
     * The loop's epoll fd: readable (POLLIN) when a watched fd is ready, a job was queued from another thread, or
     * the last {@link #runOnce} left requests to serve that came without a doorbell, or jobs to run. Watch
     * it in a native poller of yours and call {@link #runOnce runOnce(0)} when it is readable; never read or close it.
     *
     * @return the epoll file descriptor
     */
    public int fd() {
        return epfd;
    }

    /**
     * @return milliseconds until the loop has timed work (0 = now: a job is queued, a timer is due, or requests wait
     *         that came without a doorbell), or -1 when it has none; an embedding loop calls {@link #runOnce} by then.
     *         Call it on the thread that drives {@link #runOnce}: it drops moot timers from the loop's queue.
     */
    public int timeoutMs() {
        return nextTimeoutMs();
    }

    /** @return true when anything was dispatched or run */
    private boolean poll(int timeoutMs) {
        // Listed connections have requests whose doorbells were skipped: look at the fds, do not wait for them.
        int n = C.epoll_wait(epfd, events, MAX_EVENTS, draining.isEmpty() ? timeoutMs : 0);
        dispatching = true;
        try {
            return dispatch(n);
        } finally {
            flushDeferred();
            if (!draining.isEmpty()) {
                settleDraining();
            }
        }
    }

    /**
     * Called by a connection about to send an event from this loop's callbacks: when the loop is dispatching, the
     * event's notification may wait for the end of the pass ({@link #flushDeferred()}), so that every connection
     * gets one send(2) for all its events of the pass instead of one per event. Loop thread only.
     *
     * @return true when the connection may defer (it was recorded, or already is)
     */
    boolean deferNotifications(Connection c) {
        if (!dispatching || thread != Thread.currentThread()) {
            return false;
        }
        if (!c.notificationsDeferred) {
            c.notificationsDeferred = true;
            deferred.add(c);
        }
        return true;
    }

    /** Ends a dispatch pass: sends every notification owed. */
    private void flushDeferred() {
        dispatching = false;
        flushOwedNotifications();
    }

    /** Sends every event notification owed so far in this pass (loop thread only). */
    void flushOwedNotifications() {
        final java.util.ArrayList<Connection> list = deferred;
        if (list.isEmpty()) {
            return;
        }
        for (int i = 0; i < list.size(); i++) {
            Connection c = list.get(i);
            c.notificationsDeferred = false;
            try {
                c.flushDeferredNotifications();
            } catch (RuntimeException | Error e) {
                LOG.error("event notification flush failed", e);
            }
        }
        list.clear();
    }

    private boolean dispatch(int n) {
        if (n < 0) {
            int e = Posix.errno();
            if (e != Errno.EINTR) {
                LOG.error("epoll_wait: {} - loop stops", Errno.name(e));
                running = false;
            }
            n = 0;
        }
        boolean served = false;
        for (Priority p : ORDER) {
            for (int i = 0; i < n; i++) {
                long ev = events + (long) i * MsgHdrDescriptor.EPOLL_EVENT_LENGTH;
                long data = MEM.readLong(ev + MsgHdrDescriptor.EPOLL_EVENT_DATA);
                int fd = (int) data;
                if (fd == wakeFd) {
                    if (p == Priority.HIGH) {
                        C.read(wakeFd, wakeBuf, 8);
                        selfSignalled = false;
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
                    FAILURE_LOG.error("handler for fd {} failed", fd, e);
                }
            }
            if (!draining.isEmpty()) {
                served |= serveDraining(p);
            }
        }
        boolean ran = runJobs();
        return n > 0 | served | ran | runTimers();
    }

    @SuppressWarnings("unchecked")
    private static ConcurrentLinkedQueue<Runnable>[] newJobQueues() {
        return new ConcurrentLinkedQueue[] {new ConcurrentLinkedQueue<>(), new ConcurrentLinkedQueue<>(),
            new ConcurrentLinkedQueue<>()};
    }

    private boolean jobsPending() {
        return !jobs[0].isEmpty() || !jobs[1].isEmpty() || !jobs[2].isEmpty();
    }

    /** Runs queued jobs, HIGH before MED before LOW (a HIGH job queued meanwhile goes before the next MED). */
    private boolean runJobs() {
        int budget = 1024;
        boolean ran = false;
        while (budget-- > 0) {
            Runnable j = jobs[0].poll();
            if (j == null) {
                j = jobs[1].poll();
            }
            if (j == null) {
                j = jobs[2].poll();
            }
            if (j == null) {
                break;
            }
            ran = true;
            try {
                j.run();
            } catch (RuntimeException | Error e) {
                LOG.error("job failed", e);
            }
        }
        return ran;
    }

    /**
     * @return the earliest timer, after dropping those at the head whose task became moot ({@link CancellableTask}):
     *         e.g. the handshake time-out once no handshake is pending, which would otherwise make every sleep of the
     *         loop a timed one (an hrtimer armed in epoll_wait) and every pass read the clock, for seconds
     */
    private Timer nextTimer() {
        Timer t;
        while ((t = timers.peek()) != null && t.moot()) {
            timers.poll();
        }
        return t;
    }

    private boolean runTimers() {
        if (nextTimer() == null) {
            return false;
        }
        long now = System.nanoTime();
        Timer t;
        boolean ran = false;
        while ((t = timers.peek()) != null && t.deadline - now <= 0) {
            timers.poll();
            if (t.moot()) {
                continue;
            }
            ran = true;
            try {
                t.task.run();
            } catch (RuntimeException | Error e) {
                LOG.error("timer failed", e);
            }
        }
        return ran;
    }

    /**
     * Runs {@code task} on the loop thread after {@code delayMs}. Thread-safe.
     *
     * @param delayMs milliseconds from now
     * @param task what to run
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
        jobs[priority == Priority.HIGH ? 0 : priority == Priority.LOW ? 2 : 1].add(job);
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
    public synchronized void dispatchAdd(Priority priority, int fd, int events, FdHandler handler) {
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
    public synchronized void dispatchMod(Priority priority, int fd, int events, FdHandler handler) {
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

    private void ctl(int op, int fd, int ev, long data) {
        MEM.writeInt(ctlEvent + MsgHdrDescriptor.EPOLL_EVENT_EVENTS, ev);
        MEM.writeLong(ctlEvent + MsgHdrDescriptor.EPOLL_EVENT_DATA, data);
        if (C.epoll_ctl(epfd, op, fd, ctlEvent) < 0) {
            throw IpcException.of("epoll_ctl(fd " + fd + ")", Posix.errno(), null); // the message only on failure
        }
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
            Posix.free(signalBuf, 8);
        }
    }
}

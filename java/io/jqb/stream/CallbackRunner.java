package io.jqb.stream;

import static io.jqb.internal.posix.Posix.C;
import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.internal.Logs;
import io.jqb.IpcException;
import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import io.jqb.stream.internal.FdHandle;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;

/**
 * The thread behind {@link Ipc#setCallback}: polls the endpoint's fd and an eventfd (the stop signal) and calls the
 * callback while data can be read. Level-triggered, like poll(2): the callback is expected to read.
 */
final class CallbackRunner implements Runnable {
    private static final Logger LOG = Logs.get(CallbackRunner.class);
    private static final AtomicInteger SEQ = new AtomicInteger();
    /** pollfd[2] (16 bytes) + the eventfd's 8-byte counter. */
    private static final int SCRATCH = 24;

    private final Ipc ipc;
    private final Consumer<Ipc> cb;
    private final Thread thread;
    private final int wakeFd;
    private final long scratch;
    private volatile boolean stopping;
    /** Guards the eventfd against a write after the thread closed it. */
    private boolean exited;

    CallbackRunner(Ipc ipc, Consumer<Ipc> cb) {
        this.ipc = ipc;
        this.cb = cb;
        this.wakeFd = Posix.check(C.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK), "eventfd");
        this.scratch = Posix.allocate(SCRATCH);
        this.thread = new Thread(this, "jqb-ipc-callback-" + SEQ.incrementAndGet());
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    @Override
    public void run() {
        try {
            while (!stopping) {
                boolean ready = ipc.hasBuffered() || ipc.eof();
                if (!ready) {
                    FdHandle h = ipc.handle();
                    if (h == null || !h.acquire()) {
                        break;
                    }
                    int rev;
                    try {
                        rev = Posix.pollTwo(h.fd(), LibC.POLLIN, wakeFd, LibC.POLLIN, -1, scratch);
                    } finally {
                        h.release();
                    }
                    ready = (rev & 0xffff) != 0;
                }
                if (stopping) {
                    break;
                }
                if (ready) {
                    try {
                        cb.accept(ipc);
                    } catch (RuntimeException e) {
                        LOG.warn("{}: callback threw; callback stopped", thread.getName(), e);
                        break;
                    }
                }
                if (ipc.eof() || ipc.error() || ipc.handle() == null) {
                    break;
                }
            }
        } catch (IpcException e) {
            LOG.debug("{}: poll failed: {}", thread.getName(), e.getMessage());
        } finally {
            synchronized (this) {
                exited = true;
                C.close(wakeFd);
                Posix.free(scratch, SCRATCH);
            }
        }
    }

    /** Stops the thread; waits for it unless called from it. */
    void stop() {
        stopping = true;
        synchronized (this) {
            if (!exited) {
                MEM.writeLong(scratch + 16, 1);
                C.write(wakeFd, scratch + 16, 8);
            }
        }
        if (Thread.currentThread() != thread) {
            boolean interrupted = false;
            while (thread.isAlive()) {
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

package io.jqb.ops.internal;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs one piece of discovery (reading one process's fds, one directory's rings) with a deadline, so that nothing
 * a stuck or hostile process does can hang {@code jqb ls}/{@code top}: a read of {@code /proc/<pid>/cmdline} can block
 * while the target holds its mm lock, an open of a file swapped for a FIFO blocks. The work runs on daemon threads; a
 * task that misses its deadline is abandoned (interrupted) and reported as timed out.
 */
public final class Bounded {
    private static final AtomicInteger THREADS = new AtomicInteger();
    /**
     * Threads are only kept while busy or for 10 s after; at most 256 (abandoned stuck tasks included): past that a
     * submit is rejected, which the callers report like a time-out, so even then nothing waits without a bound.
     */
    private static final ExecutorService POOL = new ThreadPoolExecutor(0, 256, 10, TimeUnit.SECONDS,
            new SynchronousQueue<>(), r -> {
                Thread t = new Thread(r, "jqb-ops-io-" + THREADS.incrementAndGet());
                t.setDaemon(true);
                return t;
            }, new ThreadPoolExecutor.AbortPolicy());

    private Bounded() {
    }

    /** Starts {@code task}; collect it with {@link #get}. */
    public static <T> Future<T> submit(Callable<T> task) {
        return POOL.submit(task);
    }

    /**
     * Waits for {@code f} until {@code deadlineNanos} ({@link System#nanoTime()} clock).
     *
     * @throws TimeoutException when it is not done by then (it is cancelled)
     * @throws Exception what the task threw
     */
    public static <T> T get(Future<T> f, long deadlineNanos) throws Exception {
        try {
            return f.get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw e;
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof Exception) {
                throw (Exception) c;
            }
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            f.cancel(true);
            throw e;
        }
    }

    /**
     * {@link #submit} then {@link #get} with a deadline {@code timeoutMillis} from now.
     *
     * @throws TimeoutException also when no thread could be had (too many abandoned tasks)
     */
    public static <T> T call(Callable<T> task, long timeoutMillis) throws Exception {
        Future<T> f;
        try {
            f = submit(task);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            throw new TimeoutException("too many stuck reads");
        }
        return get(f, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
    }
}

package io.jqb;

/**
 * The event loop a service runs on ({@code struct qb_ipcs_poll_handlers}). Use the built-in {@link EventLoop}, or
 * implement this to run a service inside an existing loop. A service calls these from the thread that runs it
 * and, for {@link #jobAdd} and {@link #dispatchMod}, possibly from other threads: implementations must accept
 * that.
 */
public interface PollHandlers {
    /** Readable ({@code POLLIN}). */
    int POLLIN = 0x1;
    /** Writable ({@code POLLOUT}). */
    int POLLOUT = 0x4;
    /** Error ({@code POLLERR}); always reported. */
    int POLLERR = 0x8;
    /** Hang-up ({@code POLLHUP}); always reported. */
    int POLLHUP = 0x10;
    /** Invalid fd ({@code POLLNVAL}). */
    int POLLNVAL = 0x20;

    /** Called by the loop when a watched fd is ready. */
    @FunctionalInterface
    interface FdHandler {
        /**
         * @param fd the ready fd
         * @param revents the {@code POLL*} bits that are set
         */
        void onEvents(int fd, int revents);
    }

    /**
     * Runs {@code job} once, soon, on the loop thread. Thread-safe.
     *
     * @param priority the dispatch priority
     * @param job what to run
     */
    void jobAdd(Priority priority, Runnable job);

    /**
     * Starts watching {@code fd} for {@code events}.
     *
     * @param priority the dispatch priority
     * @param fd the file descriptor
     * @param events the {@code POLL*} bits to watch for
     * @param handler called on the loop thread when {@code fd} is ready
     */
    void dispatchAdd(Priority priority, int fd, int events, FdHandler handler);

    /**
     * Changes what {@code fd} is watched for. Thread-safe.
     *
     * @param priority the dispatch priority
     * @param fd the file descriptor
     * @param events the {@code POLL*} bits to watch for
     * @param handler called on the loop thread when {@code fd} is ready
     */
    void dispatchMod(Priority priority, int fd, int events, FdHandler handler);

    /**
     * Stops watching {@code fd} (before it is closed).
     *
     * @param fd the file descriptor
     */
    void dispatchDel(int fd);
}

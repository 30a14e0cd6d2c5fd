package io.jqb.internal;

/**
 * A loop timer's task that can become moot before it is due. {@link io.jqb.EventLoop} drops such a timer, without
 * running it, once it reaches the head of its queue and {@link #cancelled()} says so: the loop then neither sleeps
 * with a time-out for it nor reads the clock for it.
 */
public interface CancellableTask extends Runnable {
    /** @return true when running the task would do nothing now; asked on the loop thread */
    boolean cancelled();
}

package io.jqb.internal;

/**
 * Work the loop polls directly while it spins (a connection's request ring). Loop thread only.
 */
public interface Spinner {
    /** @return true when it found and did work */
    boolean poll();

    /**
     * The loop is about to sleep: withdraw any "awake" advertisement, then re-check for work.
     *
     * @return true when work is pending (the loop will not sleep)
     */
    boolean prepareSleep();

    /** The loop is polling again. */
    void awake();
}

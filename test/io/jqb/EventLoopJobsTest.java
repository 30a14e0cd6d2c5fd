package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The built-in loop's jobs honour their priority (libqb's job levels), and runOnce embeds the loop; in-process. */
class EventLoopJobsTest {

    @Test
    void jobsRunHighBeforeMedBeforeLow() {
        try (EventLoop loop = new EventLoop()) {
            List<String> order = new ArrayList<>();
            loop.jobAdd(Priority.LOW, () -> order.add("low1"));
            loop.jobAdd(Priority.MED, () -> order.add("med1"));
            loop.jobAdd(Priority.HIGH, () -> order.add("high1"));
            loop.jobAdd(Priority.LOW, () -> order.add("low2"));
            loop.jobAdd(Priority.HIGH, () -> {
                order.add("high2");
                loop.jobAdd(Priority.HIGH, () -> order.add("high3")); // queued meanwhile: still before MED
            });
            loop.jobAdd(Priority.MED, () -> order.add("med2"));
            assertEquals(0, loop.timeoutMs(), "jobs pending: no wait");
            assertTrue(loop.runOnce(-1));
            assertEquals(List.of("high1", "high2", "high3", "med1", "med2", "low1", "low2"), order);
            assertEquals(-1, loop.timeoutMs(), "nothing pending");
            assertFalse(loop.runOnce(0));
        }
    }

    /**
     * A job queued on the loop thread after runOnce ran its jobs (here by a timer; a drain's resumption is queued so
     * by a backlog's flush timer) makes fd() readable, for an embedder that waits for fd() alone; once it has run,
     * fd() is quiet again.
     */
    @Test
    void aJobQueuedByATimerMakesTheFdReadable() {
        try (EventLoop loop = new EventLoop()) {
            loop.runOnce(0); // this thread becomes the loop thread
            List<String> ran = new ArrayList<>();
            loop.schedule(0, () -> loop.jobAdd(Priority.LOW, () -> ran.add("job")));
            assertTrue(loop.runOnce(0), "the timer ran");
            assertEquals(List.of(), ran, "the job runs in the next call");
            assertEquals(1, io.jqb.internal.posix.Posix.pollOne(loop.fd(), io.jqb.internal.posix.LibC.POLLIN, 0),
                    "fd() readable while the job waits");
            assertTrue(loop.runOnce(0));
            assertEquals(List.of("job"), ran);
            assertEquals(0, io.jqb.internal.posix.Posix.pollOne(loop.fd(), io.jqb.internal.posix.LibC.POLLIN, 0),
                    "fd() quiet once nothing is pending");
        }
    }

    @Test
    void runOnceRunsDueTimersAndIsTheLoopThread() {
        try (EventLoop loop = new EventLoop()) {
            List<Boolean> inLoop = new ArrayList<>();
            loop.runOnce(0); // this thread becomes the loop thread
            assertTrue(loop.inLoop(), "runOnce made this the loop thread");
            loop.schedule(20, () -> inLoop.add(loop.inLoop()));
            int t = loop.timeoutMs();
            assertTrue(t >= 0 && t <= 20, "next timer in " + t + " ms (0 when this thread was descheduled)");
            long t0 = System.nanoTime();
            while (inLoop.isEmpty()) {
                loop.runOnce(5_000); // shortened to the timer
                assertTrue(System.nanoTime() - t0 < 4_000_000_000L, "timer did not fire");
            }
            assertEquals(List.of(true), inLoop);
            assertTrue(loop.fd() >= 0);
        }
    }
}

package io.jqb.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.LeakProbe;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** setCallback: called off the caller's thread when data can be read; setCallback(null) waits for a running call. */
@Timeout(60)
class CallbackTest {
    static final int P = Frames.PREFIX;

    @Test
    void callbackReadsOnItsOwnThreadAndStopWaitsForIt() throws Exception {
        PeerProcess.warmUp();
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        PipeIpc[] p = PipeIpc.pair();
        try (PipeIpc a = p[0]; PipeIpc b = p[1]) {
            AtomicReference<String> thread = new AtomicReference<>();
            AtomicReference<String> got = new AtomicReference<>();
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicBoolean finished = new AtomicBoolean();
            b.setCallback(ipc -> {
                thread.set(Thread.currentThread().getName());
                got.set(ipc.readMessage(P, 100, 1000).text());
                entered.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                finished.set(true);
            });
            a.writeMessage(P, 1, "wake up");
            assertTrue(entered.await(10, TimeUnit.SECONDS));
            assertEquals("wake up", got.get());
            assertNotEquals(Thread.currentThread().getName(), thread.get());
            AtomicBoolean finishedWhenStopReturned = new AtomicBoolean();
            Thread stopper = new Thread(() -> {
                b.setCallback(null);
                finishedWhenStopReturned.set(finished.get());
            });
            stopper.start();
            stopper.join(200);
            assertTrue(stopper.isAlive(), "setCallback(null) returned while the callback ran");
            release.countDown();
            stopper.join(10_000);
            assertTrue(finishedWhenStopReturned.get());
            // stopped: data now stays unread
            a.writeMessage(P, 2, "later");
            assertEquals("later", b.readMessage(P, 100, 5000).text());
        }
        LeakProbe.assertNoLeak("callback", before, Duration.ofSeconds(5));
    }

    @Test
    void callbackSeesEveryMessageAndEndsAtEof() throws Exception {
        PipeIpc[] p = PipeIpc.pair();
        try (PipeIpc a = p[0]; PipeIpc b = p[1]) {
            CountDownLatch all = new CountDownLatch(100);
            CountDownLatch eof = new CountDownLatch(1);
            b.setCallback(ipc -> {
                Message m = ipc.readMessage(P, 100, 1000);
                if (m != null) {
                    all.countDown();
                } else if (ipc.eof()) {
                    eof.countDown();
                }
            });
            for (int i = 0; i < 100; i++) {
                a.writeMessage(P, i, "m" + i);
            }
            assertTrue(all.await(10, TimeUnit.SECONDS));
            a.close();
            assertTrue(eof.await(10, TimeUnit.SECONDS));
        }
    }
}

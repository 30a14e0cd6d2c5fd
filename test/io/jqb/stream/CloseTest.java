package io.jqb.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.IpcException;
import io.jqb.testutil.LeakProbe;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** close(): idempotent, safe from another thread (wakes a blocked reader and a blocked accept), releases the fd. */
@Timeout(60)
class CloseTest {
    @Test
    void closeFromAnotherThreadWakesABlockedReaderAndAccept() throws Exception {
        PeerProcess.warmUp();
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        PipeIpc[] p = PipeIpc.pair();
        CompletableFuture<Object> reader = CompletableFuture.supplyAsync(() -> {
            try {
                return p[1].readMessage(Frames.PREFIX, 100, -1);   // without limit
            } catch (IpcException e) {
                return e;
            }
        });
        TcpIpc l = TcpIpc.listen(0, "127.0.0.1");
        CompletableFuture<Object> acceptor = CompletableFuture.supplyAsync(() -> {
            try {
                return l.accept(-1);
            } catch (IpcException e) {
                return e;
            }
        });
        assertFalse(reader.isDone());
        p[1].close();
        l.close();
        Object r = reader.get(10, TimeUnit.SECONDS);
        assertTrue(r == null || r instanceof IpcException, String.valueOf(r));
        Object a = acceptor.get(10, TimeUnit.SECONDS);
        assertTrue(a == null || a instanceof IpcException, String.valueOf(a));
        // idempotent, and unusable afterwards
        p[1].close();
        l.close();
        assertEquals(-1, p[1].fd());
        assertThrows(IpcException.class, () -> p[1].write(new byte[1]));
        assertThrows(IpcException.class, () -> l.accept(0));
        p[0].close();
        LeakProbe.assertNoLeak("close", before, Duration.ofSeconds(5));
    }
}

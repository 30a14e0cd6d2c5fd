package io.jqb.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Connection;
import io.jqb.Errno;
import io.jqb.Service;
import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NonBlockingEchoHandler;
import io.jqb.testutil.ShmAssert;
import io.jqb.testutil.Soak;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Issue 10 item 7: a client's buffer size has an upper bound. One unprivileged handshake asking for just under 1 GiB
 * used to get three rings of that size in /dev/shm (RAM, ~2.9 GB); eight filled the machine. Now the service caps
 * the size ({@link Service#setMaxBufferSize}, default 16 MiB) and tells the client, which sizes its buffers from the
 * response as libqb clients do; {@code accept} sees what was asked for and may refuse with a clean error.
 */
class BufferSizeCapTest extends InteropTestBase {
    private static final int NOBODY = 65534;

    private static void assumeRootAndSetpriv() throws IOException {
        Assumptions.assumeTrue((int) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0
                && Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs root + setpriv");
    }

    @Test
    void aHugeRequestIsCappedAndTheNativeClientWorksWithTheCap() throws Exception {
        assumeRootAndSetpriv();
        NonBlockingEchoHandler h = new NonBlockingEchoHandler();
        Service s = start(h);
        assertEquals(Service.DEFAULT_MAX_BUFFER_SIZE, s.maxBufferSize());
        long asked = 256L << 20;
        NativeClient nc = track(NativeClient.drive(s.name(), asked, NOBODY));
        assertEquals(Service.DEFAULT_MAX_BUFFER_SIZE, nc.connect(), "the native client's buffer size");
        Connection c = connectionOf(s, nc);
        assertEquals(asked, c.requestedBufferSize());
        assertEquals(Service.DEFAULT_MAX_BUFFER_SIZE, c.bufferSize());
        nc.echo(60_000);
        long bytes = shmBytes(nc.pid());
        Soak.figure("BufferSizeCapTest", "asked256MiB", "agreed=" + c.bufferSize() + " shmBytes=" + bytes);
        assertTrue(bytes <= 4L * Service.DEFAULT_MAX_BUFFER_SIZE, bytes + " bytes in /dev/shm for one connection");
        // A message over the cap is refused on the client side, the connection stays.
        assertEquals("err EMSGSIZE", nc.call("send 1 " + Service.DEFAULT_MAX_BUFFER_SIZE));
        nc.echo(100);
    }

    @Test
    void acceptSeesTheRequestAndMayRefuse() throws Exception {
        assumeRootAndSetpriv();
        AtomicLong seen = new AtomicLong();
        NonBlockingEchoHandler h = new NonBlockingEchoHandler() {
            @Override
            public int accept(Connection c, int uid, int gid) {
                seen.set(c.requestedBufferSize());
                return c.requestedBufferSize() > (1 << 20) ? -Errno.EMSGSIZE : super.accept(c, uid, gid);
            }
        };
        Service s = start(h);
        s.setMaxBufferSize(4 << 20);
        NativeClient refused = track(NativeClient.drive(s.name(), 2 << 20, NOBODY));
        assertEquals("err EMSGSIZE", refused.call("connect"), "a refused native client sees a clean error");
        assertEquals(2 << 20, seen.get());
        NativeClient fine = track(NativeClient.drive(s.name(), 1 << 20, NOBODY));
        assertEquals(1 << 20, fine.connect());
        fine.echo(1000);
        waitUntil("one connection", () -> s.connections().size() == 1);
    }

    /** Bytes of the files of the connection directories of client {@code pid}. */
    private static long shmBytes(long pid) throws IOException {
        long total = 0;
        List<Path> dirs = ShmAssert.entries(ShmAssert.ourPid(), pid);
        for (Path d : dirs) {
            try (Stream<Path> files = Files.list(d)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    total += Files.size(f);
                }
            }
        }
        return total;
    }
}

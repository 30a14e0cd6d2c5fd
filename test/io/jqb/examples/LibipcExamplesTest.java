package io.jqb.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.LibipcPeer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** Runs the README's libipc example against the C libipc wire peer. */
class LibipcExamplesTest {
    @Test
    void pongLoopEchoesToTheCClient() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "jqb-ex-" + ProcessHandle.current().pid() + "-");
        String name = "pong-" + ProcessHandle.current().pid();
        AtomicBoolean stop = new AtomicBoolean();
        List<String> log = new CopyOnWriteArrayList<>();
        CountDownLatch gone = new CountDownLatch(1);
        Thread t = new Thread(() -> LibipcPong.serve(name, dir.toString(), stop, line -> {
            log.add(line);
            if (line.startsWith("gone: ")) {
                gone.countDown();
            }
        }), "pong-example");
        t.start();
        try {
            Path socket = dir.resolve(name + "-0-0");
            long until = System.nanoTime() + 30_000_000_000L;
            while (!Files.exists(socket) && System.nanoTime() < until) {
                Thread.onSpinWait();
            }
            LibipcPeer.Result r = LibipcPeer.run(dir.toString(), 60_000, "bench", name, "--count", "100",
                    "--size", "64", "--warmup", "0");
            assertEquals(0, r.exit(), r.output());
            // the client's exit is the loop's next DISCONNECTION event: stop only once the loop has reported it
            assertTrue(gone.await(30, TimeUnit.SECONDS), "no DISCONNECTION event after the client exited: " + log);
        } finally {
            stop.set(true);
            t.join(10_000);
        }
        assertTrue(log.get(0).startsWith("connected: "), log.toString());
        assertTrue(log.get(1).startsWith("gone: "), log.toString());
        assertEquals(List.of(), List.of(dir.toFile().list()));
        Files.delete(dir);
    }
}

package io.jqb.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.stream.IpcServer;
import io.jqb.stream.TcpIpc;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Runs the stream-layer README example: its server against a socat client, its client against its server. */
@Timeout(120)
class StreamEchoExampleTest {
    @Test
    void serverEchoesASocatClientAndTheClient() throws Exception {
        IpcServer<StreamEcho.Echo> server = new IpcServer<>();
        TcpIpc listener = TcpIpc.listen(0, "127.0.0.1");
        int port = listener.localPort();
        AtomicBoolean result = new AtomicBoolean();
        Thread t = new Thread(() -> result.set(StreamEcho.serve(server, listener)));
        t.start();
        try {
            assertEquals("hello, stream", StreamEcho.call("127.0.0.1:" + port, "hello, stream"));
            byte[] payload = "from socat".getBytes(StandardCharsets.UTF_8);
            byte[] frame = ByteBuffer.allocate(12 + payload.length).putInt(StreamEcho.PREFIX).putInt(9)
                    .putInt(payload.length).put(payload).array();
            Process socat = new ProcessBuilder("socat", "-", "TCP:127.0.0.1:" + port).start();
            try {
                socat.getOutputStream().write(frame);
                socat.getOutputStream().flush();
                assertArrayEquals(frame, readN(socat.getInputStream(), frame.length));
            } finally {
                socat.destroyForcibly();
                socat.waitFor(10, TimeUnit.SECONDS);
            }
        } finally {
            server.stopNow();
            t.join(30_000);
        }
        assertTrue(result.get());
    }

    private static byte[] readN(InputStream in, int n) throws IOException {
        byte[] b = in.readNBytes(n);
        assertEquals(n, b.length);
        return b;
    }
}

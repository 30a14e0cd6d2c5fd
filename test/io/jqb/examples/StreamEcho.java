package io.jqb.examples;

import io.jqb.stream.Ipc;
import io.jqb.stream.IpcServer;
import io.jqb.stream.IpcService;
import io.jqb.stream.Message;
import io.jqb.stream.TcpIpc;

/** README example: the stream layer's framed echo, a server (IpcServer, one service copy per connection) and a client. */
public final class StreamEcho {
    /** The frame prefix both ends agree on ("JQBS"). */
    static final int PREFIX = 0x4A514253;

    private StreamEcho() {
    }

    // [server]
    /** One copy per connection, on its own thread. */
    static final class Echo implements IpcService {
        @Override
        public IpcService copy() {
            return new Echo();
        }

        @Override
        public void serve(Ipc ipc) {
            try (ipc) {
                Message m;
                while ((m = ipc.readMessage(PREFIX, 1 << 20, 30_000)) != null) {   // null: idle or peer gone
                    ipc.writeMessage(PREFIX, m.msgId(), m.payload());
                }
            }   // FrameException (unchecked) for a wrong prefix, an oversize or a truncated frame
        }
    }
    // [/server]

    /** Serves on {@code listener} until {@code server.stop()}. */
    static boolean serve(IpcServer<Echo> server, TcpIpc listener) {
        // [run]
        return server.run(listener, new Echo());   // true after server.stop() from any thread
        // [/run]
    }

    /** Sends {@code text} to {@code hostPort} and returns the echo. */
    public static String call(String hostPort, String text) {
        // [client]
        try (TcpIpc c = TcpIpc.connect(hostPort, 0, 2000)) {      // "host:port", "[v6]:port"; 2 s to connect
            c.writeMessage(PREFIX, 1, text);                       // prefix, id, UTF-8 payload
            Message m = c.readMessage(PREFIX, 1 << 20, 5000);      // size limit, 5 s for the first byte
            return m == null ? null : m.text();                   // null: nothing within 5 s (or peer closed)
        }
        // [/client]
    }
}

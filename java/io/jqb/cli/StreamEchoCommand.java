package io.jqb.cli;

import io.jqb.IpcException;
import io.jqb.stream.FrameException;
import io.jqb.stream.Ipc;
import io.jqb.stream.IpcServer;
import io.jqb.stream.IpcService;
import io.jqb.stream.PipeIpc;
import io.jqb.stream.TcpIpc;
import io.jqb.stream.internal.FrameDescriptor;
import java.nio.ByteBuffer;
import java.util.Set;

/**
 * {@code jqb stream-echo}: an {@link IpcServer} that echoes every framed message (prefix "JQBS", same id, same
 * payload) or, with {@code --raw}, every byte, until SIGTERM/SIGINT.
 */
final class StreamEchoCommand {
    /** Largest frame echoed (a longer one ends that connection). */
    static final int MAX_FRAME = 16 << 20;
    /** A connection that sends nothing for this long is closed. */
    static final int IDLE_MS = 300_000;

    private StreamEchoCommand() {
    }

    static int run(String[] argv) throws InterruptedException {
        Args a;
        try {
            a = new Args(argv, Set.of("--tcp", "--tls", "--pipe", "--cert", "--key", "--ca"), Set.of("--raw"));
        } catch (IllegalArgumentException e) {
            System.err.println("jqb stream-echo: " + e.getMessage());
            return 2;
        }
        int modes = (a.flag("--tcp") ? 1 : 0) + (a.flag("--tls") ? 1 : 0) + (a.flag("--pipe") ? 1 : 0);
        if (modes != 1) {
            System.err.println("jqb stream-echo: give exactly one of --tcp [ADDR:]PORT, --tls [ADDR:]PORT, --pipe PATH");
            return 2;
        }
        Ipc listener;
        String what;
        try {
            if (a.flag("--pipe")) {
                listener = PipeIpc.listen(a.require("--pipe"));
                what = "pipe " + listener.localAddress();
            } else if (a.flag("--tcp")) {
                String[] ap = splitAddrPort(a.require("--tcp"));
                listener = TcpIpc.listen(Integer.parseInt(ap[1]), ap[0]);
                what = "tcp " + listener.localAddress();
            } else {
                String[] ap = splitAddrPort(a.require("--tls"));
                listener = StreamTls.listen(Integer.parseInt(ap[1]), ap[0], a.require("--cert"), a.require("--key"),
                        a.get("--ca", null));
                what = "tls " + listener.localAddress();
            }
        } catch (IllegalArgumentException e) {
            System.err.println("jqb stream-echo: " + e.getMessage());
            return 2;
        } catch (IpcException e) {
            System.err.println("jqb stream-echo: " + e.getMessage());
            return 1;
        }
        IpcServer<IpcService> server = new IpcServer<>("jqb-stream-echo", 256, IpcServer.Overflow.WAIT);
        Signals.onTermination(() -> server.stop(2000));
        System.out.println("jqb stream-echo: " + what + " ready (pid " + ProcessHandle.current().pid() + ")");
        System.out.flush();
        boolean ok = server.run(listener, a.flag("--raw") ? new RawEcho() : new FramedEcho());
        return ok ? 0 : 1;
    }

    /** {@code "PORT"} → {null, PORT}; {@code "ADDR:PORT"} / {@code "[v6]:PORT"} → {ADDR, PORT}. */
    static String[] splitAddrPort(String s) {
        int c = s.lastIndexOf(':');
        if (c < 0) {
            return new String[] {null, s};
        }
        String addr = s.substring(0, c);
        if (addr.startsWith("[") && addr.endsWith("]")) {
            addr = addr.substring(1, addr.length() - 1);
        }
        return new String[] {addr, s.substring(c + 1)};
    }

    /** Echoes frames: same prefix, id and payload. */
    static final class FramedEcho implements IpcService {
        private ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024);

        @Override
        public IpcService copy() {
            return new FramedEcho();
        }

        @Override
        public void serve(Ipc ipc) {
            try (ipc) {
                for (;;) {
                    long len = ipc.nextMessageLength(FrameDescriptor.DEFAULT_PREFIX, MAX_FRAME, IDLE_MS);
                    if (len < 0) {
                        return;
                    }
                    if (len > buf.capacity()) {
                        buf = ByteBuffer.allocateDirect((int) len);
                    }
                    buf.clear().limit((int) len);
                    long id = ipc.readMessage(FrameDescriptor.DEFAULT_PREFIX, buf, IDLE_MS);
                    buf.flip();
                    ipc.writeMessage(FrameDescriptor.DEFAULT_PREFIX, (int) id, buf);
                }
            } catch (FrameException e) {
                return;
            } catch (IpcException e) {
                return;
            }
        }
    }

    /** Echoes bytes as they come. */
    static final class RawEcho implements IpcService {
        private final byte[] buf = new byte[64 * 1024];

        @Override
        public IpcService copy() {
            return new RawEcho();
        }

        @Override
        public void serve(Ipc ipc) {
            try (ipc) {
                for (;;) {
                    int n = ipc.read(buf, buf.length, IDLE_MS);
                    if (n <= 0) {
                        return;
                    }
                    ipc.write(buf, 0, n);
                }
            } catch (IpcException e) {
                return;
            }
        }
    }
}

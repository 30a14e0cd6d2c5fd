package io.jqb.cli;

import io.jqb.IpcException;
import io.jqb.libipc.IpcEvent;
import io.jqb.libipc.IpcServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;

/**
 * {@code jqb libipc-echo-server NAME [--server-close]}: a libipc echo server at the path rule's socket (honours
 * {@code IPC_RUNDIR}). Echoes every message with the same type and payload. SIGTERM/SIGINT wake the loop through a
 * pipe added with {@code addFd}; then every client is closed (after a SERVER_CLOSE frame with
 * {@code --server-close}), the socket removed, and the exit status is 0.
 */
final class LibipcEchoServerCommand {
    private LibipcEchoServerCommand() {
    }

    static int run(String[] argv) throws IOException {
        String name = null;
        boolean serverClose = false;
        for (String a : argv) {
            if (a.equals("--server-close")) {
                serverClose = true;
            } else if (a.startsWith("-") || name != null) {
                System.err.println("jqb libipc-echo-server: usage: libipc-echo-server NAME [--server-close]");
                return 2;
            } else {
                name = a;
            }
        }
        if (name == null) {
            System.err.println("jqb libipc-echo-server: usage: libipc-echo-server NAME [--server-close]");
            return 2;
        }
        IpcServer server;
        try {
            server = IpcServer.builder(name).serverCloseOnClose(serverClose).init();
        } catch (IpcException e) {
            System.err.println("jqb libipc-echo-server: " + e.getMessage());
            return 1;
        }
        Pipe stop = Pipe.open();
        try (server; Pipe.SinkChannel sink = stop.sink(); Pipe.SourceChannel source = stop.source()) {
            server.addFd(source);
            Signals.onTermination(() -> {
                try {
                    sink.write(ByteBuffer.wrap(new byte[] {1}));
                } catch (IOException e) {
                    // already stopping
                }
            });
            System.out.println("jqb libipc-echo-server: " + name + " ready (path " + server.path() + ", pid "
                    + ProcessHandle.current().pid() + ")");
            System.out.flush();
            for (;;) {
                IpcEvent e = server.waitEvent(-1);
                switch (e.type()) {
                    case MESSAGE:
                        try {
                            e.connection().write(e.message());
                        } catch (IpcException x) {
                            // that client is gone or stuck; its DISCONNECTION follows
                        }
                        break;
                    case EXTRA_FD:
                        return 0;
                    default:
                        break;
                }
            }
        }
    }
}

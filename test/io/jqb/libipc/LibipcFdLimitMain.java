package io.jqb.libipc;

import io.jqb.testutil.FdLimit;
import java.io.IOException;

/**
 * Child JVM for {@link LibipcAcceptLimitTest}: a libipc server whose process then lowers its own RLIMIT_NOFILE with
 * {@code prlimit}, so that accepting fails with EMFILE after a few connections. Args: run directory, name, and
 * {@code waitEvent} or {@code accept}. Prints {@code ready limit L}, then one line per event ({@code CONNECTION},
 * {@code DISCONNECTION}, {@code MESSAGE}, which it echoes); runs {@code waitEvent(-1)} until killed. In
 * {@code accept} mode connections are taken with {@code accept(100)} ({@code ipc_accept}), then the ready events
 * are served with {@code waitEvent(0)}.
 */
public final class LibipcFdLimitMain {
    private LibipcFdLimitMain() {
    }

    public static void main(String[] args) throws Exception {
        String dir = args[0];
        String name = args[1];
        boolean acceptMode = args.length > 2 && args[2].equals("accept");
        // Every code path once before the limit is lowered: with a directory class path each class loaded later
        // would need an fd of its own, and the accept must be the first thing to hit the limit.
        try (IpcServer warm = IpcServer.builder(name + "-warm").runDirectory(dir).init();
                IpcClient c = IpcClient.builder(name + "-warm").runDirectory(dir).connect()) {
            c.write(IpcMessage.formatData(new byte[] {1}));
            for (int events = 0; events < 2;) {
                IpcEvent e = warm.waitEvent(5000);
                if (e.type() == IpcEventType.MESSAGE) {
                    e.connection().write(e.message());
                }
                if (e.type() == IpcEventType.CONNECTION || e.type() == IpcEventType.MESSAGE) {
                    events++;
                }
            }
            c.read(5000);
        }
        // the failed accept's log line names the errno: what does that loaded too
        String emfile = io.jqb.Errno.name(io.jqb.libipc.internal.Errors.errno(new IOException("Too many open files")));
        System.out.println("warm " + IpcEventType.DISCONNECTION + " " + IpcEventType.TIMEOUT + " " + emfile);
        try (IpcServer server = IpcServer.builder(name).runDirectory(dir).init()) {
            int limit = FdLimit.lowerToOpenFdsPlus(3);
            System.out.println("ready limit " + limit);
            System.out.flush();
            for (;;) {
                if (acceptMode && server.accept(100) != null) {
                    System.out.println("accepted");
                    System.out.flush();
                }
                IpcEvent e;
                do {
                    e = server.waitEvent(acceptMode ? 0 : -1);
                    if (e.type() == IpcEventType.MESSAGE) {
                        e.connection().write(e.message());
                    }
                    System.out.println(e.type());
                    System.out.flush();
                } while (acceptMode && e.type() != IpcEventType.TIMEOUT);
            }
        }
    }
}

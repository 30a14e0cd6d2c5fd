package io.jqb.stream;

import io.jqb.IpcException;
import io.jqb.testutil.FdLimit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Child JVM for {@link IpcServerTest}: an IpcServer whose process then lowers its own RLIMIT_NOFILE with
 * {@code prlimit} so that accept fails with EMFILE after two connections. Its {@code failure()} says "go on" the
 * first time and "give up" the second; prints {@code port N}, {@code failure N errno}, {@code run=B}.
 */
public final class FdLimitServerMain {
    private FdLimitServerMain() {
    }

    public static void main(String[] args) throws Exception {
        AtomicInteger failures = new AtomicInteger();
        IpcServer<TagService> server = new IpcServer<>("fdlimit", 16, IpcServer.Overflow.WAIT) {
            @Override
            protected boolean failure(Ipc listenIpc, IpcException error) {
                int n = failures.incrementAndGet();
                System.out.println("failure " + n + " " + error.errnoName());
                System.out.flush();
                return n < 2;
            }
        };
        warmUp();
        TcpIpc l = TcpIpc.listen(0, "127.0.0.1");
        int limit = FdLimit.lowerToOpenFdsPlus(3);
        System.out.println("port " + l.localPort() + " limit " + limit);
        System.out.flush();
        boolean ok = server.run(l, new TagService(60_000, 5000));
        System.out.println("run=" + ok);
        System.out.flush();
        System.exit(0);
    }

    /**
     * Runs every code path once before the fd limit is lowered: with a directory class path each class loaded later
     * would need an fd of its own, and the test wants the accept to be the first thing to hit the limit.
     */
    private static void warmUp() throws InterruptedException {
        IpcServer<TagService> warm = new IpcServer<>("warm", 4, IpcServer.Overflow.WAIT) {
            @Override
            protected boolean failure(Ipc listenIpc, IpcException error) {
                return false;
            }
        };
        TcpIpc wl = TcpIpc.listen(0, "127.0.0.1");
        Thread t = new Thread(() -> warm.run(wl, new TagService(60_000, 5000)));
        t.start();
        try (TcpIpc c = TcpIpc.connect("127.0.0.1", wl.localPort(), 5000)) {
            c.writeMessage(TagService.P, 1, "warm");
            c.readMessage(TagService.P, 100, 5000);
        }
        warm.stopNow();
        t.join();
        System.out.println("warm " + new IpcException("warm", 24).errnoName() + " " + Boolean.toString(true));
    }
}

package io.jqb.cli;

import io.jqb.Client;
import io.jqb.Credentials;
import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.MessageTooLargeException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.Set;

/**
 * {@code jqb check}: runs every echo-contract check a client can make against a server, jqb or native. Last line:
 * {@code N passed, M failed}.
 */
final class CheckCommand {
    private static final int TIMEOUT_MS = 5000;

    private final PrintStream out;
    private final Client client;
    private final ByteBuffer req;
    private final ByteBuffer resp;
    private int passed;
    private int failed;

    private CheckCommand(PrintStream out, Client client) {
        this.out = out;
        this.client = client;
        this.req = ByteBuffer.allocateDirect(client.bufferSize());
        this.resp = ByteBuffer.allocateDirect(client.bufferSize());
    }

    static int run(String[] argv, PrintStream out) {
        Args a;
        try {
            a = new Args(argv, Set.of("--service", "--max"), Set.of());
            a.require("--service");
        } catch (IllegalArgumentException e) {
            out.println("jqb check: " + e.getMessage());
            return 2;
        }
        String service = a.require("--service");
        int max = a.getInt("--max", 65536);
        Client c;
        try {
            c = Client.connect(service, max);
        } catch (IpcException e) {
            out.println("FAIL connect: " + e.getMessage());
            out.println("0 passed, 1 failed");
            return 1;
        }
        try (c) {
            CheckCommand cc = new CheckCommand(out, c);
            cc.pass("connect");
            cc.all(max);
            out.println(cc.passed + " passed, " + cc.failed + " failed");
            return cc.failed == 0 ? 0 : 1;
        }
    }

    private void pass(String name) {
        passed++;
        out.println("PASS " + name);
    }

    private void fail(String name, String why) {
        failed++;
        out.println("FAIL " + name + ": " + why);
    }

    private interface Check {
        String run() throws Exception;
    }

    private void check(String name, Check c) {
        try {
            String why = c.run();
            if (why == null) {
                pass(name);
            } else {
                fail(name, why);
            }
        } catch (Exception e) {
            fail(name, e.toString());
        }
    }

    private void all(int requested) {
        final int size = client.bufferSize();
        final int largest = size - EchoMessages.RESPONSE_HEADER;
        check("bufsize", () -> size >= requested ? null : "buffer size " + size + " < requested " + requested);
        check("is-connected", () -> client.isConnected() ? null : "not connected");
        check("auth", () -> {
            Credentials s = client.serverCredentials();
            return s != null && s.pid() > 0 ? null : "no server credentials: " + s;
        });
        for (int n : new int[] {0, 1, 7, 8, 64, 4095, 4096, 4097, 65536}) {
            if (n <= largest) {
                check("echo-" + n, () -> echo(n));
            }
        }
        check("echo-max-" + largest, () -> echo(largest));
        check("echo-mixed-20000", () -> {
            Random rnd = new Random(42);
            for (int i = 0; i < 20_000; i++) {
                int n = rnd.nextInt(size / 3 + 1);
                String why = echo(n);
                if (why != null) {
                    return "round trip " + i + " (payload " + n + "): " + why;
                }
            }
            return null;
        });
        for (int n : new int[] {0, 100, largest}) {
            check("event-" + n, () -> event(n));
        }
        check("unknown-id", () -> {
            int len = roundTrip(99, 0);
            return len < 0 ? Errno.name(len) : EchoMessages.checkResponse(resp, len, 99, 0, -Errno.EINVAL);
        });
        check("oversize-refused", () -> {
            ByteBuffer big = ByteBuffer.allocate(size + 1);
            try {
                client.send(big);
                return "send of " + (size + 1) + " bytes was accepted";
            } catch (MessageTooLargeException e) {
                return null;
            }
        });
        check("echo-after-oversize", () -> echo(10));
        check("no-stray-events", () -> {
            int rc = client.eventRecv(resp, 0);
            return rc == Errno.WOULD_BLOCK || rc == Errno.TIMED_OUT ? null : "unexpected event, rc=" + rc;
        });
        check("no-stray-responses", () -> {
            int rc = client.recv(resp, 0);
            return rc == Errno.WOULD_BLOCK || rc == Errno.TIMED_OUT ? null : "unexpected response, rc=" + rc;
        });
        check("still-connected", () -> client.isConnected() ? null : "not connected");
    }

    private int roundTrip(int id, int n) {
        EchoMessages.request(req, id, n);
        // A libqb server reclaims a request only after its msg_process returned, i.e. after sending the response: the
        // previous request can still fill the ring for a moment, so a full ring is retried, not a failure.
        long deadline = System.nanoTime() + TIMEOUT_MS * 1_000_000L;
        int rc;
        while ((rc = client.send(req)) == Errno.WOULD_BLOCK && System.nanoTime() - deadline < 0) {
            Thread.yield();
        }
        if (rc < 0) {
            return rc;
        }
        return client.recv(resp, TIMEOUT_MS);
    }

    private String echo(int n) {
        int len = roundTrip(EchoHandler.ECHO, n);
        return len < 0 ? Errno.name(len) : EchoMessages.checkResponse(resp, len, EchoHandler.ECHO, n, 0);
    }

    private String event(int n) {
        int len = roundTrip(EchoHandler.EVENT, n);
        if (len < 0) {
            return "response: " + Errno.name(len);
        }
        String why = EchoMessages.checkResponse(resp, len, EchoHandler.EVENT, 0, 0);
        if (why != null) {
            return "response: " + why;
        }
        len = client.eventRecv(resp, TIMEOUT_MS);
        return len < 0 ? "event: " + Errno.name(len)
                : EchoMessages.checkResponse(resp, len, EchoHandler.EVENT, n, 0);
    }
}

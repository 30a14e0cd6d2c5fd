package io.jqb.libipc;

import io.jqb.IpcException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A jqb libipc echo server in this JVM: one thread runs the waitEvent loop, echoes every MESSAGE and records every
 * event as a line ("CONNECTION", "MESSAGE 2 64", "DISCONNECTION", "ERROR ..."). {@link #close()} stops the loop
 * and closes the server.
 */
final class EchoLoop implements AutoCloseable {
    final IpcServer server;
    final BlockingQueue<String> events = new LinkedBlockingQueue<>();
    final AtomicLong messages = new AtomicLong();
    private final Thread thread;
    private volatile boolean stop;
    private volatile Throwable failure;

    EchoLoop(IpcServer server) {
        this.server = server;
        this.thread = new Thread(this::run, "libipc-echo-loop");
        thread.start();
    }

    private void run() {
        try {
            while (!stop) {
                IpcEvent e = server.waitEvent(50);
                switch (e.type()) {
                    case TIMEOUT:
                        break;
                    case MESSAGE:
                        messages.incrementAndGet();
                        events.add("MESSAGE " + e.message().type() + " " + e.message().length());
                        try {
                            e.connection().write(e.message());
                        } catch (IpcException x) {
                            events.add("WRITE-FAILED " + x.getMessage());
                        }
                        break;
                    case ERROR:
                        events.add("ERROR " + e.cause().getMessage());
                        break;
                    default:
                        events.add(e.type().toString());
                }
            }
        } catch (Throwable t) {
            failure = t;
        }
    }

    /** @return the next recorded event line, or null after {@code ms} */
    String next(long ms) throws InterruptedException {
        return events.poll(ms, TimeUnit.MILLISECONDS);
    }

    /** Waits for an event line starting with {@code prefix}, skipping others; null after {@code ms}. */
    String await(String prefix, long ms) throws InterruptedException {
        long deadline = System.nanoTime() + ms * 1_000_000L;
        for (;;) {
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                return null;
            }
            String l = events.poll(left, TimeUnit.MILLISECONDS);
            if (l != null && l.startsWith(prefix)) {
                return l;
            }
        }
    }

    boolean isAlive() {
        return thread.isAlive() && failure == null;
    }

    Throwable failure() {
        return failure;
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        thread.join(10_000);
        server.close();
        if (failure != null) {
            throw new AssertionError("echo loop failed", failure);
        }
    }
}

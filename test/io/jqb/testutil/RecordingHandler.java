package io.jqb.testutil;

import io.jqb.ResponseHeader;
import io.jqb.Connection;
import io.jqb.ConnectionStats;
import io.jqb.cli.EchoHandler;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.ToIntFunction;

/**
 * The echo contract ({@link EchoHandler}) plus a record of every callback: how often each ran per connection, on
 * which thread, and the connection's stats when {@code closed} ran. Tests plug behaviour in through the hooks.
 */
public class RecordingHandler extends EchoHandler {
    /** Request id that makes the handler call {@link Connection#disconnect()} from inside {@code message}. */
    public static final int DISCONNECT_ME = 12;

    public final AtomicInteger accepts = new AtomicInteger();
    public final AtomicInteger created = new AtomicInteger();
    public final AtomicInteger messages = new AtomicInteger();
    public final AtomicInteger closed = new AtomicInteger();
    public final AtomicInteger destroyed = new AtomicInteger();
    /** Per connection id: how often closed / destroyed ran for it. */
    public final Map<Long, AtomicInteger> closedPerConnection = new ConcurrentHashMap<>();
    public final Map<Long, AtomicInteger> destroyedPerConnection = new ConcurrentHashMap<>();
    /** Per connection id: its stats as {@code closed} saw them. */
    public final Map<Long, ConnectionStats> statsAtClose = new ConcurrentHashMap<>();
    /** Connections in the order {@code created} saw them. */
    public final List<Connection> createdConnections = new CopyOnWriteArrayList<>();
    /** Threads the callbacks ran on. */
    public final Map<String, String> threads = new ConcurrentHashMap<>();
    /** Exceptions thrown by hooks (a failing hook must fail the test, not just be logged). */
    public final List<Throwable> hookErrors = new CopyOnWriteArrayList<>();

    /** What accept returns (default 0: accept). */
    public volatile ToIntFunction<Connection> onAccept = c -> 0;
    public volatile Consumer<Connection> onCreated = c -> { };
    /** How many times {@code closed} returns non-zero ("call me again") before it returns 0; counted as calls. */
    public volatile int closedRetries;

    @Override
    public int accept(Connection c, int uid, int gid) {
        accepts.incrementAndGet();
        threads.put("accept", Thread.currentThread().getName());
        try {
            return onAccept.applyAsInt(c);
        } catch (RuntimeException | Error e) {
            hookErrors.add(e);
            throw e;
        }
    }

    @Override
    public void created(Connection c) {
        threads.put("created", Thread.currentThread().getName());
        createdConnections.add(c);
        try {
            onCreated.accept(c);
        } catch (RuntimeException | Error e) {
            hookErrors.add(e);
            throw e;
        } finally {
            created.incrementAndGet();
        }
    }

    @Override
    public int message(Connection c, ByteBuffer request) {
        threads.put("message", Thread.currentThread().getName());
        messages.incrementAndGet();
        if (request.getInt(request.position()) == DISCONNECT_ME) {
            c.disconnect();
            return 0;
        }
        return super.message(c, request);
    }

    @Override
    public int closed(Connection c) {
        threads.put("closed", Thread.currentThread().getName());
        statsAtClose.putIfAbsent(c.id(), c.stats(false));
        closedPerConnection.computeIfAbsent(c.id(), k -> new AtomicInteger()).incrementAndGet();
        closed.incrementAndGet();
        if (closedRetries > 0) {
            closedRetries--;
            return -1;
        }
        return 0;
    }

    @Override
    public void destroyed(Connection c) {
        threads.put("destroyed", Thread.currentThread().getName());
        destroyedPerConnection.computeIfAbsent(c.id(), k -> new AtomicInteger()).incrementAndGet();
        destroyed.incrementAndGet();
    }

    // ------------------------------------------------------------------------------------------- messages

    /** The payload byte qbn-client generates and checks: {@code (uint8)(i * 31 + 7)}. */
    public static byte pattern(int i) {
        return (byte) (i * 31 + 7);
    }

    /** A message {id, size 24+n, error} + n pattern bytes, as qbn-client's {@code event} command verifies. */
    public static ByteBuffer message(int id, int error, int n) {
        ByteBuffer b = ByteBuffer.allocate(ResponseHeader.LENGTH + n).order(ByteOrder.LITTLE_ENDIAN);
        new ResponseHeader().wrap(b, 0).set(id, ResponseHeader.LENGTH + n, error);
        for (int i = 0; i < n; i++) {
            b.put(ResponseHeader.LENGTH + i, pattern(i));
        }
        return b;
    }
}

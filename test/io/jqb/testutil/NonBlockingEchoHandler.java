package io.jqb.testutil;

import io.jqb.ResponseHeader;
import io.jqb.Connection;
import io.jqb.IpcException;
import io.jqb.ServiceHandler;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The echo contract (id 1 echo, id 2 response + event, others {id, 24, -EINVAL}) without ever waiting: a full ring
 * drops the answer (counted). Thread-safe: one instance may serve several services. Hostile clients that never read must not stall the loop, which the CLI's
 * {@code EchoHandler} (it retries for up to 5 s) would. Records callbacks per connection.
 */
public class NonBlockingEchoHandler implements ServiceHandler {
    public final AtomicInteger accepts = new AtomicInteger();
    public final AtomicInteger created = new AtomicInteger();
    public final AtomicLong messages = new AtomicLong();
    public final AtomicLong dropped = new AtomicLong();
    public final AtomicLong sendErrors = new AtomicLong();
    public final AtomicInteger closed = new AtomicInteger();
    public final AtomicInteger destroyed = new AtomicInteger();
    public final Map<Long, AtomicInteger> closedPerConnection = new ConcurrentHashMap<>();
    public final Map<Long, AtomicInteger> destroyedPerConnection = new ConcurrentHashMap<>();
    public final List<Throwable> errors = new CopyOnWriteArrayList<>();

    @Override
    public int accept(Connection c, int uid, int gid) {
        accepts.incrementAndGet();
        return 0;
    }

    @Override
    public void created(Connection c) {
        created.incrementAndGet();
    }

    @Override
    public int message(Connection c, ByteBuffer request) {
        messages.incrementAndGet();
        try {
            int pos = request.position();
            int id = request.getInt(pos);
            int n = request.remaining() - 16;
            ByteBuffer payload = request.duplicate().position(pos + 16);
            switch (id) {
                case EchoWire.ECHO:
                    count(c.sendResponse(header(id, 24 + n, 0), payload));
                    break;
                case EchoWire.EVENT:
                    count(c.sendResponse(header(id, 24, 0)));
                    count(c.sendEvent(header(id, 24 + n, 0), payload));
                    break;
                default:
                    count(c.sendResponse(header(id, 24, -EchoWire.EINVAL)));
                    break;
            }
        } catch (IpcException e) {
            sendErrors.incrementAndGet();
        } catch (RuntimeException | Error e) {
            errors.add(e);
            throw e;
        }
        return 0;
    }

    private void count(int rc) {
        if (rc < 0) {
            dropped.incrementAndGet();
        }
    }

    /** A fresh header per message: one handler may serve several services, i.e. several loop threads. */
    private static ByteBuffer header(int id, int size, int error) {
        ByteBuffer header = ByteBuffer.allocate(ResponseHeader.LENGTH);
        new ResponseHeader().wrap(header, 0).set(id, size, error);
        return header;
    }

    @Override
    public int closed(Connection c) {
        closedPerConnection.computeIfAbsent(c.id(), k -> new AtomicInteger()).incrementAndGet();
        closed.incrementAndGet();
        return 0;
    }

    @Override
    public void destroyed(Connection c) {
        destroyedPerConnection.computeIfAbsent(c.id(), k -> new AtomicInteger()).incrementAndGet();
        destroyed.incrementAndGet();
    }

    /** @return a description of connections whose closed/destroyed ran other than once, or "" */
    public String notExactlyOnce() {
        StringBuilder b = new StringBuilder();
        closedPerConnection.forEach((k, v) -> {
            if (v.get() != 1) {
                b.append("closed[").append(k).append("]=").append(v.get()).append(' ');
            }
        });
        destroyedPerConnection.forEach((k, v) -> {
            if (v.get() != 1) {
                b.append("destroyed[").append(k).append("]=").append(v.get()).append(' ');
            }
        });
        if (!destroyedPerConnection.keySet().containsAll(closedPerConnection.keySet())) {
            b.append("closed but never destroyed ");
        }
        return b.toString();
    }
}

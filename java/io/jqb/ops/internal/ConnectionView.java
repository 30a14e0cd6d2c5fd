package io.jqb.ops.internal;

import io.jqb.Connection;
import io.jqb.ConnectionStats;
import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.ops.ConnectionMXBean;
import io.jqb.ops.RingInfo;
import java.nio.file.Path;
import java.util.List;

/**
 * One jqb connection's figures for JMX and metrics: the counters from {@link Connection#stats(boolean)} and the ring
 * fill read from its files (read-only, as {@code jqb ls} does). Ring reads are cached for {@value #RING_CACHE_MS} ms
 * so that a JMX console reading every attribute costs one read of each header.
 */
public final class ConnectionView implements ConnectionMXBean {
    static final long RING_CACHE_MS = 100;

    private final Service service;
    private final Connection connection;
    private final String directory;
    private List<RingInfo> rings;
    /** Registered as an MBean (unregister on removal). */
    volatile boolean registered;
    private long ringsAt;

    ConnectionView(Service service, Connection connection, String directory) {
        this.service = service;
        this.connection = connection;
        this.directory = directory;
    }

    public Connection connection() {
        return connection;
    }

    private ConnectionStats stats() {
        return connection.stats(false);
    }

    /** The rings (request, response, event), read at most every {@value #RING_CACHE_MS} ms. */
    public synchronized List<RingInfo> rings() {
        long now = System.nanoTime();
        if (rings == null || now - ringsAt > RING_CACHE_MS * 1_000_000) {
            Path dir = Path.of(directory);
            rings = socket() ? RingFiles.readControl(dir, service.name()) : RingFiles.readShm(dir, service.name());
            ringsAt = now;
        }
        return rings;
    }

    private boolean socket() {
        return service.transportType() == TransportType.SOCKET;
    }

    private RingInfo ring(int i) {
        return rings().get(i);
    }

    @Override
    public String getService() {
        return service.name();
    }

    @Override
    public long getId() {
        return connection.id();
    }

    @Override
    public String getTransport() {
        return socket() ? "SOCKET" : "SHM";
    }

    @Override
    public int getClientPid() {
        return connection.clientPid();
    }

    @Override
    public int getClientUid() {
        return connection.clientUid();
    }

    @Override
    public int getBufferSize() {
        return connection.bufferSize();
    }

    @Override
    public boolean isConnected() {
        return connection.isConnected();
    }

    @Override
    public String getDirectory() {
        return directory;
    }

    @Override
    public long getRequests() {
        return stats().requests();
    }

    @Override
    public long getResponses() {
        return stats().responses();
    }

    @Override
    public long getEvents() {
        return stats().events();
    }

    @Override
    public long getSendRetries() {
        return stats().sendRetries();
    }

    @Override
    public long getRecvRetries() {
        return stats().recvRetries();
    }

    @Override
    public int getFlowControlState() {
        return stats().flowControlState();
    }

    @Override
    public long getFlowControlCount() {
        return stats().flowControlCount();
    }

    @Override
    public int getEventQueueLength() {
        return stats().eventQueueLength();
    }

    @Override
    public long getRingSize() {
        return ring(0).dataBytes();
    }

    @Override
    public double getRequestRingFill() {
        return ring(0).fillPercent();
    }

    @Override
    public double getResponseRingFill() {
        return ring(1).fillPercent();
    }

    @Override
    public double getEventRingFill() {
        return ring(2).fillPercent();
    }

    @Override
    public long getRequestQueued() {
        return ring(0).queued();
    }

    @Override
    public long getResponseQueued() {
        return ring(1).queued();
    }

    @Override
    public long getEventQueued() {
        return ring(2).queued();
    }
}

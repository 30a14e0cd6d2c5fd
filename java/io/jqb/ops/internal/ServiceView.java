package io.jqb.ops.internal;

import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.ops.ServiceMXBean;

/** A jqb service's figures for JMX and metrics (live: every read asks the service). */
public final class ServiceView implements ServiceMXBean {
    private final Service service;

    ServiceView(Service service) {
        this.service = service;
    }

    public Service service() {
        return service;
    }

    @Override
    public String getName() {
        return service.name();
    }

    @Override
    public int getServiceId() {
        return service.serviceId();
    }

    @Override
    public String getTransport() {
        return service.transportType() == TransportType.SOCKET ? "SOCKET" : "SHM";
    }

    @Override
    public boolean isRunning() {
        return service.isRunning();
    }

    @Override
    public int getConnectionCount() {
        return service.connections().size();
    }

    @Override
    public int getActiveConnections() {
        return service.stats(false).activeConnections();
    }

    @Override
    public int getClosedConnections() {
        return service.stats(false).closedConnections();
    }

    @Override
    public String getRateLimit() {
        return service.rateLimit().name();
    }

    @Override
    public long getPid() {
        return ProcessHandle.current().pid();
    }
}

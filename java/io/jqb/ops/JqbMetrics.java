package io.jqb.ops;

import io.jqb.Service;
import io.jqb.ops.internal.ConnectionView;
import io.jqb.ops.internal.ServiceMonitor;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * Micrometer meters for a jqb {@link Service}: the same figures as its JMX MBeans. Needs micrometer-core on the class
 * path (an optional dependency of jqb: nothing else in jqb loads it).
 *
 * <!-- example: test/io/jqb/examples/ServiceMetrics.java#metrics -->
 * <pre>{@code
 * Service service = Service.create(name, 0, TransportType.SHM, EchoService.handler(allowedUid));
 * service.enableJmx();                          // io.jqb:type=Service,name="<name>" + one MBean per connection
 * SimpleMeterRegistry registry = new SimpleMeterRegistry();
 * new JqbMetrics(service).bindTo(registry);     // the same figures as Micrometer meters
 * service.run();
 * }</pre>
 *
 * <p>Service meters (tag {@code service}): {@code jqb.service.connections} (gauge, active connections),
 * {@code jqb.service.connections.closed} (counter). Per connection (tags {@code service}, {@code connection} = id,
 * {@code client.pid}), registered when it is established and removed when it goes: counters
 * {@code jqb.connection.requests}, {@code .responses}, {@code .events}, {@code .send.retries}, {@code .recv.retries},
 * {@code .flow.control.changes}; gauges {@code jqb.connection.flow.control}, {@code jqb.connection.event.queue}; and
 * per ring (extra tag {@code ring} = request/response/event) gauges {@code jqb.ring.fill} (percent of the ring in
 * use) and {@code jqb.ring.queued} (messages not yet read). All meters go when the service closes.</p>
 */
public final class JqbMetrics implements MeterBinder {
    private final Service service;

    /** @param service the service to expose (it may run already or later) */
    public JqbMetrics(Service service) {
        this.service = service;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        ServiceMonitor m = ServiceMonitor.of(service);
        Tags tags = Tags.of("service", service.name());
        List<Meter> serviceMeters = new ArrayList<>();
        serviceMeters.add(Gauge.builder("jqb.service.connections", service,
                s -> s.stats(false).activeConnections()).tags(tags).description("active connections")
                .register(registry));
        serviceMeters.add(FunctionCounter.builder("jqb.service.connections.closed", service,
                s -> s.stats(false).closedConnections()).tags(tags).description("connections closed")
                .register(registry));
        m.addListener(new ServiceMonitor.Listener() {
            private final Map<ConnectionView, List<Meter>> meters = new ConcurrentHashMap<>();

            @Override
            public void added(ConnectionView c) {
                meters.put(c, connectionMeters(registry, c));
            }

            @Override
            public void removed(ConnectionView c) {
                List<Meter> l = meters.remove(c);
                if (l != null) {
                    l.forEach(registry::remove);
                }
            }

            @Override
            public void closed() {
                meters.values().forEach(l -> l.forEach(registry::remove));
                meters.clear();
                serviceMeters.forEach(registry::remove);
            }
        });
    }

    private static List<Meter> connectionMeters(MeterRegistry r, ConnectionView c) {
        Tags tags = Tags.of("service", c.getService(), "connection", Long.toString(c.getId()), "client.pid",
                Integer.toString(c.getClientPid()));
        List<Meter> l = new ArrayList<>();
        l.add(counter(r, "jqb.connection.requests", c, ConnectionView::getRequests, tags));
        l.add(counter(r, "jqb.connection.responses", c, ConnectionView::getResponses, tags));
        l.add(counter(r, "jqb.connection.events", c, ConnectionView::getEvents, tags));
        l.add(counter(r, "jqb.connection.send.retries", c, ConnectionView::getSendRetries, tags));
        l.add(counter(r, "jqb.connection.recv.retries", c, ConnectionView::getRecvRetries, tags));
        l.add(counter(r, "jqb.connection.flow.control.changes", c, ConnectionView::getFlowControlCount, tags));
        l.add(Gauge.builder("jqb.connection.flow.control", c, ConnectionView::getFlowControlState).tags(tags)
                .register(r));
        l.add(Gauge.builder("jqb.connection.event.queue", c, ConnectionView::getEventQueueLength).tags(tags)
                .register(r));
        ring(r, l, c, tags, "request", ConnectionView::getRequestRingFill, ConnectionView::getRequestQueued);
        ring(r, l, c, tags, "response", ConnectionView::getResponseRingFill, ConnectionView::getResponseQueued);
        ring(r, l, c, tags, "event", ConnectionView::getEventRingFill, ConnectionView::getEventQueued);
        return l;
    }

    private static void ring(MeterRegistry r, List<Meter> l, ConnectionView c, Tags tags, String ring,
            ToDoubleFunction<ConnectionView> fill, ToDoubleFunction<ConnectionView> queued) {
        Tags t = tags.and("ring", ring);
        l.add(Gauge.builder("jqb.ring.fill", c, fill).tags(t).baseUnit("percent").register(r));
        l.add(Gauge.builder("jqb.ring.queued", c, queued).tags(t).baseUnit("messages").register(r));
    }

    private static Meter counter(MeterRegistry r, String name, ConnectionView c, ToDoubleFunction<ConnectionView> f,
            Tags tags) {
        return FunctionCounter.builder(name, c, f).tags(tags).register(r);
    }
}

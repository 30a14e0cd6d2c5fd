package io.jqb.ops.internal;

import io.jqb.internal.Logs;
import io.jqb.Connection;
import io.jqb.Service;
import io.jqb.internal.Logs;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.slf4j.Logger;

/**
 * The one hook between {@link Service} and the operations family: the service reports its start, each connection's
 * arrival (with its directory) and departure, and its close; this class keeps the views JMX and metrics read, and
 * registers the MBeans when JMX is on. Nothing here runs on a message path (a map update per connection).
 */
public final class ServiceMonitor {
    private static final Logger LOG = Logs.get(ServiceMonitor.class);
    /** Monitors of the services that ran (and have not closed). */
    private static final Map<Service, ServiceMonitor> MONITORS = new ConcurrentHashMap<>();
    /** System property that turns JMX on for every service ({@code -Djqb.jmx=true}). */
    public static final String JMX_PROPERTY = "jqb.jmx";

    /** Told about connections (the Micrometer binder is one). */
    public interface Listener {
        void added(ConnectionView c);

        void removed(ConnectionView c);

        /** The service closed: everything bound to it goes. */
        void closed();
    }

    private final ServiceView view;
    private final Map<Connection, ConnectionView> connections = new ConcurrentHashMap<>();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private volatile ObjectName serviceName;
    private volatile boolean closed;

    private ServiceMonitor(Service service) {
        this.view = new ServiceView(service);
    }

    // ------------------------------------------------------------------------------------------- hooks (Service)

    /** The service started ({@code run()}): turns JMX on when {@value #JMX_PROPERTY} is true. */
    public static void started(Service s) {
        ServiceMonitor m = of(s);
        if (Boolean.getBoolean(JMX_PROPERTY)) {
            m.enableJmx();
        }
    }

    /** A connection is established (its response is out); {@code directory} holds its rings or control file. */
    public static void connectionAdded(Service s, Connection c, String directory) {
        of(s).add(c, directory);
    }

    /** A connection was destroyed. */
    public static void connectionRemoved(Service s, Connection c) {
        ServiceMonitor m = MONITORS.get(s);
        if (m != null) {
            m.remove(c);
        }
    }

    /** The service closed: unregisters everything. */
    public static void closed(Service s) {
        ServiceMonitor m = MONITORS.remove(s);
        if (m != null) {
            m.close();
        }
    }

    // ------------------------------------------------------------------------------------------- users

    /** The monitor of {@code s}, made on first use. */
    public static ServiceMonitor of(Service s) {
        return MONITORS.computeIfAbsent(s, ServiceMonitor::new);
    }

    public ServiceView service() {
        return view;
    }

    public Collection<ConnectionView> connections() {
        return new ArrayList<>(connections.values());
    }

    /** Adds a listener and tells it about the connections there are. */
    public void addListener(Listener l) {
        listeners.add(l);
        connections.values().forEach(l::added);
    }

    public void removeListener(Listener l) {
        listeners.remove(l);
    }

    /** Registers the service's MBean and one per connection, now and for every later connection. */
    public synchronized void enableJmx() {
        if (serviceName != null || closed) {
            return;
        }
        try {
            ObjectName n = new ObjectName("io.jqb:type=Service,name=" + ObjectName.quote(view.getName()));
            register(view, n);
            serviceName = n;
        } catch (JMException e) {
            LOG.warn("JMX: cannot register service {}: {}", view.getName(), e.toString());
            return;
        }
        connections.values().forEach(this::registerConnection);
    }

    /** @return true when JMX is on for this service */
    public boolean jmxEnabled() {
        return serviceName != null;
    }

    private void add(Connection c, String directory) {
        ConnectionView v = new ConnectionView(view.service(), c, directory);
        if (connections.putIfAbsent(c, v) != null) {
            return;
        }
        if (serviceName != null) {
            registerConnection(v);
        }
        if (!listeners.isEmpty()) { // no capturing lambda per connect while nobody listens
            listeners.forEach(l -> l.added(v));
        }
    }

    private void remove(Connection c) {
        ConnectionView v = connections.remove(c);
        if (v == null) {
            return;
        }
        if (v.registered) {
            unregister(connectionName(v));
        }
        if (!listeners.isEmpty()) {
            listeners.forEach(l -> l.removed(v));
        }
    }

    private synchronized void close() {
        closed = true;
        for (Connection c : new ArrayList<>(connections.keySet())) {
            remove(c);
        }
        if (serviceName != null) {
            unregister(serviceName);
            serviceName = null;
        }
        listeners.forEach(Listener::closed);
        listeners.clear();
    }

    private void registerConnection(ConnectionView v) {
        try {
            register(v, connectionName(v));
            v.registered = true;
        } catch (JMException e) {
            LOG.warn("JMX: cannot register connection {} of {}: {}", v.getId(), view.getName(), e.toString());
        }
    }

    static ObjectName connectionName(ConnectionView v) {
        try {
            return new ObjectName("io.jqb:type=Connection,service=" + ObjectName.quote(v.getService()) + ",id="
                    + v.getId());
        } catch (JMException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void register(Object bean, ObjectName n) throws JMException {
        MBeanServer s = ManagementFactory.getPlatformMBeanServer();
        if (s.isRegistered(n)) {
            s.unregisterMBean(n); // a previous service of the same name that was never closed
        }
        s.registerMBean(bean, n);
    }

    private static void unregister(ObjectName n) {
        try {
            MBeanServer s = ManagementFactory.getPlatformMBeanServer();
            if (s.isRegistered(n)) {
                s.unregisterMBean(n);
            }
        } catch (JMException e) {
            LOG.debug("JMX: unregister {}: {}", n, e.toString());
        }
    }
}

package io.jqb.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.tools.attach.VirtualMachine;
import io.jqb.Service;
import io.jqb.internal.wire.ChunkDescriptor;
import io.jqb.testutil.JqbCliProcess;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NonBlockingEchoHandler;
import io.jqb.testutil.ShmAssert;
import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.Set;
import javax.management.MBeanServer;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;
import org.junit.jupiter.api.Test;

/**
 * JMX: a jqb service and its connections as MBeans, read through the platform MBean server and, from a second JVM,
 * through a JMX connector (attach API, local connector address).
 */
class JmxTest extends OpsInteropTestBase {

    static ObjectName serviceBean(String name) throws Exception {
        return new ObjectName("io.jqb:type=Service,name=" + ObjectName.quote(name));
    }

    static ObjectName connectionPattern(String name) {
        try {
            return new ObjectName("io.jqb:type=Connection,service=" + ObjectName.quote(name) + ",*");
        } catch (javax.management.MalformedObjectNameException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void platformMBeanServerShowsServiceAndConnectionUntilClose() throws Exception {
        String name = serviceName();
        Service s = start(name, new NonBlockingEchoHandler());
        MBeanServer mbs = ManagementFactory.getPlatformMBeanServer();
        assertFalse(mbs.isRegistered(serviceBean(name)), "off by default");
        s.enableJmx();
        assertEquals(name, mbs.getAttribute(serviceBean(name), "Name"));
        assertEquals("SHM", mbs.getAttribute(serviceBean(name), "Transport"));
        assertEquals(7, mbs.getAttribute(serviceBean(name), "ServiceId"));

        NativeClient nc = drive(name);
        int size = nc.connect();
        for (int i = 0; i < 3; i++) {
            nc.echo(100);
        }
        nc.ok("send 1 100");   // a response the client does not read
        waitUntil("connection MBean", () -> mbs.queryNames(connectionPattern(name), null).size() == 1);
        ObjectName cn = mbs.queryNames(connectionPattern(name), null).iterator().next();
        waitUntil("4 requests", () -> ((Long) get(mbs, cn, "Requests")) == 4);
        // counted once written: the client may hold the 4th response a moment before the counter moves
        waitUntil("4 responses", () -> ((Long) get(mbs, cn, "Responses")) == 4);
        assertEquals((int) nc.pid(), get(mbs, cn, "ClientPid"));
        assertEquals(size, get(mbs, cn, "BufferSize"));
        assertEquals(ChunkDescriptor.dataFileSize(size), get(mbs, cn, "RingSize"));
        waitUntil("1 queued response", () -> ((Long) get(mbs, cn, "ResponseQueued")) == 1);
        assertTrue((Double) get(mbs, cn, "ResponseRingFill") > 0);
        assertEquals(0.0, (Double) get(mbs, cn, "RequestRingFill"));
        assertEquals(1, mbs.getAttribute(serviceBean(name), "ConnectionCount"));
        assertEquals(1, mbs.getAttribute(serviceBean(name), "ActiveConnections"));

        nc.close();
        waitUntil("connection MBean unregistered", () -> !mbs.isRegistered(cn));
        assertEquals(1, mbs.getAttribute(serviceBean(name), "ClosedConnections"));
        s.close();
        assertFalse(mbs.isRegistered(serviceBean(name)), "unregistered on close");
    }

    private static Object get(MBeanServerConnection mbs, ObjectName n, String attr) {
        try {
            return mbs.getAttribute(n, attr);
        } catch (Exception e) {
            throw new AssertionError(n + " " + attr, e);
        }
    }

    @Test
    void aSecondJvmReadsTheMBeansThroughAJmxConnector() throws Exception {
        String name = serviceName();
        // a jqb echo server in its own JVM, JMX switched on by the system property
        JqbCliProcess server = track(JqbCliProcess.start(Map.of("JAVA_TOOL_OPTIONS", "-Djqb.jmx=true"),
                "echo-server", "--service", name));
        String line;
        while ((line = server.nextLine(30_000)) != null && !line.contains("ready")) {
            // skip anything before the ready line
        }
        assertNotNull(line, "echo-server ready" + server.describe());
        NativeClient nc = drive(name);
        nc.connect();
        nc.echo(10);
        nc.echo(20);
        VirtualMachine vm = VirtualMachine.attach(Long.toString(server.pid()));
        try (JMXConnector jmx = JMXConnectorFactory.connect(new JMXServiceURL(vm.startLocalManagementAgent()))) {
            MBeanServerConnection mbs = jmx.getMBeanServerConnection();
            assertEquals(name, mbs.getAttribute(serviceBean(name), "Name"));
            assertEquals(server.pid(), mbs.getAttribute(serviceBean(name), "Pid"));
            waitUntil("one connection", () -> {
                try {
                    return mbs.queryNames(connectionPattern(name), null).size() == 1;
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            Set<ObjectName> cs = mbs.queryNames(connectionPattern(name), null);
            ObjectName cn = cs.iterator().next();
            waitUntil("2 requests", () -> ((Long) get(mbs, cn, "Requests")) == 2);
            assertEquals((int) nc.pid(), get(mbs, cn, "ClientPid"));
            assertEquals("SHM", get(mbs, cn, "Transport"));
            assertEquals(1, mbs.getAttribute(serviceBean(name), "ConnectionCount"));
        } finally {
            vm.detach();
        }
        // a graceful end (close() would SIGKILL the server and leave the connection's files behind)
        nc.close();
        server.terminate();
        assertEquals(0, server.waitFor(30_000), "echo-server exits 0 on SIGTERM" + server.describe());
        ShmAssert.assertNoneLeft(server.pid());
    }
}

package io.jqb.ops;

import io.jqb.Client;
import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.examples.EchoService;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import javax.management.ObjectName;

/**
 * Run by {@link NoMicrometerTest} in a JVM whose class path has no Micrometer: a service with JMX on serves a
 * client; prints {@code ok requests=N} and exits 0.
 */
public final class NoMicrometerMain {
    private NoMicrometerMain() {
    }

    public static void main(String[] args) throws Exception {
        try {
            Class.forName("io.micrometer.core.instrument.MeterRegistry");
            System.out.println("micrometer is on the class path");
            System.exit(3);
        } catch (ClassNotFoundException expected) {
            // as intended
        }
        String name = args[0];
        int uid = (Integer) java.nio.file.Files.getAttribute(java.nio.file.Path.of("/proc/self"), "unix:uid");
        try (Service s = Service.create(name, 0, TransportType.SHM, EchoService.handler(uid))) {
            s.enableJmx();
            s.run();
            javax.management.MBeanServer mbs = ManagementFactory.getPlatformMBeanServer();
            ObjectName pattern = new ObjectName("io.jqb:type=Connection,service=" + ObjectName.quote(name) + ",*");
            Object requests = null;
            try (Client c = Client.connect(name, 65536)) {
                ByteBuffer req = ByteBuffer.allocateDirect(16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                req.putInt(0, 1).putInt(8, 16);
                ByteBuffer resp = ByteBuffer.allocateDirect(c.bufferSize());
                if (c.sendRecv(req, resp, 5000) < 0) {
                    throw new IllegalStateException("no response");
                }
                // registered on the loop right after the handshake response: poll while still connected
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (requests == null && System.nanoTime() < deadline) {
                    var names = mbs.queryNames(pattern, null);
                    if (!names.isEmpty()) {
                        requests = mbs.getAttribute(names.iterator().next(), "Requests");
                    } else {
                        Thread.sleep(5);
                    }
                }
            }
            ObjectName sn = new ObjectName("io.jqb:type=Service,name=" + ObjectName.quote(name));
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!Integer.valueOf(1).equals(mbs.getAttribute(sn, "ClosedConnections"))
                    && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            System.out.println("ok requests=" + requests + " closed=" + mbs.getAttribute(sn, "ClosedConnections"));
        }
    }
}

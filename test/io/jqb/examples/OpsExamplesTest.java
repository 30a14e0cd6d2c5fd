package io.jqb.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Service;
import io.jqb.testutil.NativeClient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Runs the Operating section's example against a real native libqb client. */
class OpsExamplesTest extends io.jqb.ops.OpsInteropTestBase {

    @Test
    void metricsOfAServiceWithANativeClient() throws Exception {
        String name = serviceName();
        Object[] started = ServiceMetrics.start(name, ExamplesTest.myUid());
        Service service = track((Service) started[0]);
        SimpleMeterRegistry registry = (SimpleMeterRegistry) started[1];
        NativeClient nc = drive(name);
        nc.connect();
        nc.echo(100);
        nc.echo(200);
        nc.ok("send 1 50");   // a response it does not read
        waitUntil("3 requests counted", () -> registry.find("jqb.connection.requests").tag("service", name)
                .functionCounter() != null && registry.find("jqb.connection.requests").tag("service", name)
                .functionCounter().count() == 3);
        waitUntil("1 response queued", () -> registry.find("jqb.ring.queued").tag("ring", "response")
                .tag("service", name).gauge().value() == 1);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ServiceMetrics.print(registry, new PrintStream(buf, true, StandardCharsets.UTF_8));
        String out = buf.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertTrue(out.contains("jqb.connection.requests [tag(client.pid=" + nc.pid()), out);
        assertTrue(out.contains("jqb.service.connections [tag(service=" + name + ")] = 1.0"), out);
        assertTrue(registry.find("jqb.ring.fill").tag("ring", "response").gauge().value() > 0);

        nc.close();
        waitUntil("connection meters removed", () -> registry.find("jqb.connection.requests").tag("service", name)
                .functionCounter() == null);
        assertEquals(1.0, registry.find("jqb.service.connections.closed").functionCounter().count());
        service.close();
        assertTrue(registry.find("jqb.service.connections").gauges().isEmpty(), "service meters removed on close");
    }

    @Test
    void hostViewOfANativeServer() {
        String name = serviceName();
        io.jqb.testutil.NativeServer server = track(io.jqb.testutil.NativeServer.start(name));
        NativeClient nc = drive(name);
        nc.connect();
        nc.ok("send 1 10");   // one response it does not read
        waitUntil("the unread response", () -> HostView.responses(name).contains(nc.pid() + ": 1 unread"));
        assertTrue(HostView.responses(name).matches(nc.pid() + ": 1 unread, 44 of \\d+ bytes\n"),
                HostView.responses(name));
        assertTrue(server.isAlive());
    }
}

package io.jqb.examples;

import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.ops.JqbMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintStream;

/**
 * README example (Operating): a service's figures in JMX and in Micrometer. Run by {@code OpsExamplesTest} against a
 * native libqb client.
 */
public final class ServiceMetrics {
    private ServiceMetrics() {
    }

    /** Starts the echo service {@code name} with JMX and metrics on; returns it with its registry. */
    public static Object[] start(String name, int allowedUid) {
        // [metrics]
        Service service = Service.create(name, 0, TransportType.SHM, EchoService.handler(allowedUid));
        service.enableJmx();                          // io.jqb:type=Service,name="<name>" + one MBean per connection
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new JqbMetrics(service).bindTo(registry);     // the same figures as Micrometer meters
        service.run();
        // [/metrics]
        return new Object[] {service, registry};
    }

    /** Prints every jqb meter of {@code registry}, one per line. */
    public static void print(SimpleMeterRegistry registry, PrintStream out) {
        // [print]
        registry.getMeters().stream()
                .filter(m -> m.getId().getName().startsWith("jqb."))
                .sorted(java.util.Comparator.comparing(m -> m.getId().toString()))
                .forEach(m -> out.println(m.getId().getName() + " " + m.getId().getTags() + " = "
                        + m.measure().iterator().next().getValue()));
        // [/print]
    }
}

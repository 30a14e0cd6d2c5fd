package io.jqb.ops;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jqb.testutil.JqbCliProcess;
import io.jqb.testutil.NativeClient;
import java.time.Duration;
import java.util.function.Predicate;

/** Helpers shared by the operations tests: polling scans, running {@code jqb ls --json} in a child JVM. */
final class OpsTestSupport {
    static final Duration SETTLE = Duration.ofSeconds(30);

    private OpsTestSupport() {
    }

    /** Scans until {@code cond} holds for the service named {@code name}; fails with the last scan. */
    static ServiceInfo scanUntil(String name, String what, Predicate<ServiceInfo> cond) {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        HostSnapshot s;
        ServiceInfo svc;
        do {
            s = Discovery.scan();
            svc = s.service(name);
            if (svc != null && cond.test(svc)) {
                return svc;
            }
            NativeClient.sleep(20);
        } while (System.nanoTime() < deadline);
        fail("timed out waiting for " + what + " on " + name + "; last scan: " + svc + "\nunreadable: "
                + s.unreadable());
        return null;
    }

    /** The connection of client {@code pid} in {@code svc}. */
    static ConnectionInfo connection(ServiceInfo svc, long pid) {
        ConnectionInfo c = svc.connections().stream().filter(x -> x.clientPid() == pid).findFirst().orElse(null);
        assertNotNull(c, "connection of pid " + pid + " in " + svc);
        return c;
    }

    /** Runs {@code jqb ls --json} (io.jqb.cli.Main in a child JVM), asserts exit 0, returns the parsed output. */
    static JsonNode lsJson() throws Exception {
        try (JqbCliProcess p = JqbCliProcess.start("ls", "--json")) {
            Integer rc = p.waitFor(60_000);
            if (rc == null || rc != 0) {
                fail("jqb ls --json exit " + rc + p.describe());
            }
            return new ObjectMapper().readTree(p.stdout());
        }
    }

    /** The service {@code name} in a {@code jqb ls --json} document, or null. */
    static JsonNode service(JsonNode ls, String name) {
        for (JsonNode s : ls.get("services")) {
            if (s.get("name").asText().equals(name)) {
                return s;
            }
        }
        return null;
    }
}

package io.jqb.internal.log;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

/**
 * {@link RateLimitedLog#admitLine()}: a caller whose arguments cost something (a path string a peer can make the
 * server build per datagram) asks first and builds them only for an admitted line; refused lines are counted and the
 * next admitted line reports them.
 */
class RateLimitedLogTest {
    @Test
    void admitLineAdmitsTheBurstThenCountsWhatItRefuses() {
        List<String> lines = new ArrayList<>();
        Logger log = (Logger) Proxy.newProxyInstance(Logger.class.getClassLoader(), new Class<?>[] {Logger.class},
                (proxy, m, args) -> {
                    if (m.getName().equals("warn") && args != null && args.length == 2 && args[0] instanceof String) {
                        lines.add((String) args[0]);
                    }
                    return m.getReturnType() == boolean.class ? Boolean.TRUE : null;
                });
        // One window of an hour: the test does not depend on how fast it runs.
        RateLimitedLog r = new RateLimitedLog(log, 2, 3_600_000L);
        List<Long> admitted = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            long a = r.admitLine();
            admitted.add(a);
            if (a >= 0) {
                r.warn(a, "line {}", i);
            }
        }
        assertEquals(List.of(0L, 0L, -1L, -1L, -1L), admitted);
        assertEquals(3, r.suppressed(), "refused lines are counted");
        assertEquals(List.of("line {}", "line {}"), lines);
        r.warn(7, "later {}", 1);
        assertEquals("later {} (suppressed 7 similar lines)", lines.get(2), "an admitted line reports the count");
    }
}

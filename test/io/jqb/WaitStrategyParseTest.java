package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** {@link WaitStrategy#parse} (the CLI's {@code --wait}) and the phases of {@link WaitStrategy#idle}: in-process. */
class WaitStrategyParseTest {

    @Test
    void parsesTheThreeForms() {
        assertSame(WaitStrategy.block(), WaitStrategy.parse("block"));
        assertSame(WaitStrategy.busySpin(), WaitStrategy.parse("spin"));
        assertSame(WaitStrategy.busySpin(), WaitStrategy.parse("busy-spin"));
        WaitStrategy p = WaitStrategy.parse("phased:50:200");
        assertEquals(50_000, p.spinNanos());
        assertEquals(200_000, p.yieldNanos());
        assertTrue(p.spins());
        assertTrue(p.blocks());
        assertEquals(WaitStrategy.phased(Duration.ofMillis(0), Duration.ofMillis(0)).spinNanos(),
                WaitStrategy.parse("phased:0:0").spinNanos());
        assertFalse(WaitStrategy.block().spins());
        assertFalse(WaitStrategy.busySpin().blocks());
    }

    @Test
    void rejectsEverythingElse() {
        for (String bad : new String[] {"", "Block", "spin ", "phased", "phased:1", "phased:1:2:3", "phased:x:1",
            "phased:-1:2", "phased:1:-2", "yield"}) {
            assertThrows(IllegalArgumentException.class, () -> WaitStrategy.parse(bad), bad);
        }
    }

    @Test
    void idlePhasesSpinThenYieldThenBlock() {
        WaitStrategy p = WaitStrategy.phased(Duration.ofMillis(1), Duration.ofMillis(2));
        assertTrue(p.idle(0), "spin window");
        assertTrue(p.idle(999_999), "spin window");
        assertTrue(p.idle(1_000_000), "yield window");
        assertTrue(p.idle(2_999_999), "yield window");
        assertFalse(p.idle(3_000_000), "block");
        assertFalse(WaitStrategy.block().idle(0), "block at once");
        assertTrue(WaitStrategy.busySpin().idle(Long.MAX_VALUE), "never block");
        assertFalse(WaitStrategy.phased(Duration.ZERO, Duration.ZERO).idle(0));
    }
}

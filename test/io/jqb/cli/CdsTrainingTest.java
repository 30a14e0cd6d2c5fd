package io.jqb.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jqb.testutil.LeakProbe;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The AppCDS training run of {@code bin/jqb} (see bin/jqb, JQB_CDS) must really serve round trips over both
 * transports: an archive recorded from a run that failed at connect would hold none of the round-trip classes.
 */
class CdsTrainingTest {
    @Test
    void trainingServesBothTransportsAndLeavesNothingBehind() {
        assertEquals(0, CdsTraining.train()); // first: the class loader opens the jars it needs, for good
        LeakProbe.Snapshot before = LeakProbe.snapshot();
        assertEquals(0, CdsTraining.train());
        LeakProbe.assertNoLeak("CDS training", before, Duration.ofSeconds(10));
    }
}
